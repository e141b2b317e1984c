import { constants, existsSync, type Stats } from "node:fs";
import { open, readlink, realpath, type FileHandle } from "node:fs/promises";
import { basename, isAbsolute, join, sep } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";

/**
 * The one answer for a path that is not an acceptable model: missing, not a
 * regular file, outside the import directories, or not GGUF all read the same,
 * so the route reveals nothing about files elsewhere on the node (the class
 * of Ollama's CVE-2024-39719).
 */
export function fileRefused(): SovereignError {
  return new SovereignError("MODEL_FILE_REFUSED");
}

/** The directories POST /api/models {"path"} takes files from: inference.importDirs, else the models dir and <dataDir>/import. */
export function importDirsOf(configured: readonly string[], modelsDir: string, dataDir: string): string[] {
  return configured.length > 0 ? [...configured] : [modelsDir, join(dataDir, "import")];
}

export interface ImportFile {
  /** A path that names the opened file itself (/proc/self/fd/N on Linux), so nothing can swap it after the checks. */
  path: string;
  /** The requested file's name without .gguf: the model's name when none is given. */
  name: string;
  close(): Promise<void>;
}

async function inside(real: string, dirs: readonly string[]): Promise<boolean> {
  for (const dir of dirs) {
    let root: string;
    try {
      root = await realpath(dir);
    } catch {
      continue; // an import directory that does not exist holds nothing
    }
    if (real === root || real.startsWith(root.endsWith(sep) ? root : root + sep)) return true;
  }
  return false;
}

/**
 * Opens a model file a client named, for installing it: only an absolute path
 * to a regular file whose real location (symlinks resolved, on the opened
 * file itself) is inside one of `dirs`. The open never blocks (O_NONBLOCK: a
 * FIFO or a device is refused at fstat, not waited on). Anything else throws
 * MODEL_FILE_REFUSED, the same for every reason.
 */
export async function openImportFile(requested: string, dirs: readonly string[]): Promise<ImportFile> {
  if (!isAbsolute(requested) || requested.includes("\0")) throw fileRefused();
  let handle: FileHandle;
  try {
    handle = await open(requested, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    throw fileRefused();
  }
  try {
    let stat: Stats;
    try {
      stat = await handle.stat();
    } catch {
      throw fileRefused();
    }
    if (!stat.isFile()) throw fileRefused();
    // Where the opened file really is: the kernel's answer for the descriptor, so a symlink or a renamed parent cannot mislead.
    const fdPath = `/proc/self/fd/${handle.fd}`;
    const onProc = existsSync(fdPath);
    let real: string;
    try {
      real = onProc ? await readlink(fdPath) : await realpath(requested);
    } catch {
      throw fileRefused();
    }
    if (!(await inside(real, dirs))) throw fileRefused();
    return { path: onProc ? fdPath : real, name: basename(requested).replace(/\.gguf$/i, ""), close: () => handle.close() };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}
