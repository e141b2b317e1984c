import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCpuinfo } from "./parsers/cpuinfo.js";
import { buildIsaRefusal, parseBuildIsa } from "./parsers/llamaBuildIsa.js";

/** The file sovereign-isa: what scripts/build-llama-addon.sh compiled its build for. */
export const BUILD_ISA_FILE = "sovereign-isa";

/**
 * Where the runner reads the CPU's flags: /proc/cpuinfo unless this names
 * another file (tests point it at one recorded on a real machine).
 */
export const CPUINFO_FILE_ENV = "SOVEREIGN_CPUINFO_FILE";

/** node-llama-cpp's folder for a local build (llama/localBuilds/<platform>-<arch>[-<gpu>]), which getLlama loads before the prebuilt. */
export function llamaLocalBuildDir(gpu: string | false): string {
  const dist = dirname(fileURLToPath(import.meta.resolve("node-llama-cpp")));
  return join(dist, "..", "llama", "localBuilds", [process.platform, process.arch, ...(gpu ? [gpu] : [])].join("-"));
}

export interface LocalBuildCheck {
  dir: string;
  /** A build is installed there (node-llama-cpp's buildDone.status). */
  installed: boolean;
  /** Why this CPU must not load it; null where it may (or none is installed, or it records no instruction sets). */
  refusal: string | null;
}

/**
 * Whether the local llama.cpp build may load on this CPU. A build copied
 * into an image compiled on a newer CPU than the board's (AVX-512 on the
 * build host, a Ryzen or an Atom in the field) would otherwise kill every
 * runner with SIGILL; refused, the runner loads node-llama-cpp's prebuilt,
 * which picks its CPU variant at run time.
 */
export function checkLlamaLocalBuild(gpu: string | false = false, cpuinfoFile = process.env[CPUINFO_FILE_ENV] ?? "/proc/cpuinfo"): LocalBuildCheck {
  const dir = llamaLocalBuildDir(gpu);
  const read = (path: string): string | null => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return null;
    }
  };
  const installed = read(join(dir, "buildDone.status")) !== null;
  const isa = installed ? read(join(dir, BUILD_ISA_FILE)) : null;
  if (isa === null) return { dir, installed, refusal: null };
  const cpuinfo = read(cpuinfoFile);
  if (cpuinfo === null) return { dir, installed, refusal: `${cpuinfoFile} could not be read, so its instruction sets cannot be checked` };
  return { dir, installed, refusal: buildIsaRefusal(parseBuildIsa(isa), parseCpuinfo(cpuinfo).flags) };
}

/** Which llama.cpp binary a runner here loads, and why, in words for `sovereign hardware`. */
export function describeLlamaBuild(check: LocalBuildCheck): string {
  if (!check.installed) return "node-llama-cpp's prebuilt (no local build installed)";
  if (check.refusal !== null) return `node-llama-cpp's prebuilt: the local build is not loaded, ${check.refusal}`;
  return "the local build (persistent thread pool, scripts/patches): this CPU runs it";
}

/**
 * getLlama options that keep node-llama-cpp off a refused local build: it
 * looks for local builds in a folder named after the custom cmake options,
 * and for the prebuilt without them, so one option no build was made with
 * leaves only the prebuilt.
 */
export function skipLocalBuildOptions(check: LocalBuildCheck): { cmakeOptions?: Record<string, string> } {
  return check.refusal === null ? {} : { cmakeOptions: { SOVEREIGN_LOCAL_BUILD_REFUSED: "1" } };
}
