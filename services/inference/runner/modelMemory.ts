import type { GgufInfo } from "../../../core/gguf/readGguf.js";
import type { EngineSettings } from "../InferenceEngine.js";

const MiB = 1024 * 1024;

export interface ModelMemory {
  totalBytes: number;
  weightsBytes: number;
  kvBytes: number;
  computeBytes: number;
}

function num(info: GgufInfo, key: string): number | null {
  const v = info.metadata.get(key);
  return typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : null;
}

/**
 * About how much memory a runner needs to load a model with these settings:
 * the weights (the tensor data of the file), the f16 KV cache of every
 * sequence, and compute buffers that grow with the batch and the vocabulary.
 * It names the size in errors; the cap itself is enforced by the OS.
 */
export function estimateModelMemory(info: GgufInfo, settings: EngineSettings): ModelMemory {
  const arch = typeof info.metadata.get("general.architecture") === "string" ? (info.metadata.get("general.architecture") as string) : "";
  const weightsBytes = info.tensors.reduce((n, t) => n + t.bytes, 0);
  const layers = num(info, `${arch}.block_count`) ?? 0;
  const embd = num(info, `${arch}.embedding_length`) ?? 0;
  const heads = num(info, `${arch}.attention.head_count`) ?? 0;
  const kvHeads = num(info, `${arch}.attention.head_count_kv`) ?? heads;
  const headK = num(info, `${arch}.attention.key_length`) ?? (heads > 0 ? embd / heads : 0);
  const trained = num(info, `${arch}.context_length`) ?? settings.contextSize;
  const ctx = Math.min(settings.contextSize, trained);
  const kvBytes = 2 * layers * headK * kvHeads * 2 * ctx * settings.sequences;
  const vocab = info.tensors.find((t) => t.name === "token_embd.weight")?.dims[1] ?? 0;
  const computeBytes = 4 * Math.min(settings.batchSize, ctx) * (vocab + 4 * embd) + 32 * MiB;
  return { totalBytes: weightsBytes + kvBytes + computeBytes, weightsBytes, kvBytes, computeBytes };
}

export function mib(bytes: number): string {
  return `${Math.round(bytes / MiB)} MiB`;
}
