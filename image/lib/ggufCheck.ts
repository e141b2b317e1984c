import { closeSync, openSync, readSync, statSync } from "node:fs";
import { SovereignError } from "../../core/errors/SovereignError.js";

interface StrictReader {
  readGguf(path: string): { version: number; tensors: unknown[] };
}

/**
 * Checks that a --model file is a valid GGUF. Uses the inference service's
 * strict reader (services/inference/gguf/readGguf.ts) when it is present; a
 * minimal header check (magic, version, sane counts) otherwise.
 */
export async function checkGguf(path: string): Promise<{ version: number; tensors: number; validator: "strict" | "header" }> {
  let strict: StrictReader | undefined;
  try {
    // Loaded by path at run time so the builder does not depend on the inference service at compile time.
    const spec = "../../services/inference/gguf/readGguf.js";
    strict = (await import(spec)) as StrictReader;
  } catch {
    strict = undefined;
  }
  if (strict) {
    try {
      const info = strict.readGguf(path);
      return { version: info.version, tensors: info.tensors.length, validator: "strict" };
    } catch (err) {
      throw new SovereignError("IMAGE_MODEL_INVALID", `${path} is not a valid GGUF model: ${(err as Error).message}`, { cause: err });
    }
  }
  return { ...headerCheck(path), validator: "header" };
}

/** The fallback: the fixed 24-byte GGUF header. */
export function headerCheck(path: string): { version: number; tensors: number } {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new SovereignError("IMAGE_INPUT_MISSING", `model file ${path} does not exist`);
  }
  const buf = Buffer.alloc(24);
  const fd = openSync(path, "r");
  try {
    readSync(fd, buf, 0, 24, 0);
  } finally {
    closeSync(fd);
  }
  const bad = (why: string): SovereignError => new SovereignError("IMAGE_MODEL_INVALID", `${path} is not a valid GGUF model: ${why}`);
  if (size < 24) throw bad(`only ${size} bytes`);
  if (buf.toString("latin1", 0, 4) !== "GGUF") throw bad("wrong magic (expected GGUF)");
  const version = buf.readUInt32LE(4);
  if (version !== 2 && version !== 3) throw bad(`unsupported version ${version}`);
  const tensors = buf.readBigUInt64LE(8);
  const kv = buf.readBigUInt64LE(16);
  if (tensors === 0n || tensors > 1_000_000n || kv > 1_000_000n) throw bad(`implausible counts (tensors ${tensors}, metadata ${kv})`);
  return { version, tensors: Number(tensors) };
}
