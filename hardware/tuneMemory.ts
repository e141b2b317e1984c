import type { HardwareFacts } from "./HardwareFacts.js";
import type { Choice, ModelShape, TuningOverrides } from "./Tuning.js";
import { heuristic, override } from "./tuneThreads.js";

const MiB = 1024 * 1024;

/** When no model is loaded, tuning sizes the KV cache for a 1B-class model (Llama 3.2 1B: 16 layers, 512-wide KV, ~0.7 GB at Q4). */
export const ASSUMED_MODEL: ModelShape = { fileBytes: 700 * MiB, layers: 16, kvWidth: 512, trainContext: 8192 };

/** Bytes per parameter of the GGUF quantization classes we recommend (bits per weight / 8, embeddings included). */
const BYTES_PER_PARAM = { Q4_0: 0.57, Q4_K_M: 0.61, Q8_0: 1.07 } as const;
const MODEL_SIZES_B = [0.1, 0.25, 0.5, 1, 1.5, 3, 4, 8, 14, 32, 70] as const;

export function memoryMb(facts: HardwareFacts): number {
  return Math.floor(facts.memory.usableBytes / MiB);
}

/** Memory left for the OS, Node, SQLite and the embedding model: a quarter of RAM, at least 200 MiB, at most 1.5 GiB. */
export function tuneModelBudget(facts: HardwareFacts, o: TuningOverrides): Choice<number> {
  if (o.modelRamBudgetMb != null) return override(o.modelRamBudgetMb, "set in config");
  const mem = memoryMb(facts);
  const reserve = Math.min(1536, Math.max(200, Math.round(mem * 0.25)));
  const budget = Math.max(64, mem - reserve);
  const limited = facts.cgroup.memoryLimitBytes !== null && facts.cgroup.memoryLimitBytes < facts.memory.totalBytes ? " (cgroup memory limit)" : "";
  return heuristic(budget, `${mem} MiB usable${limited} less ${reserve} MiB kept for the OS, Node, SQLite and embeddings`);
}

export function tuneSqliteCache(facts: HardwareFacts, o: TuningOverrides): Choice<number> {
  if (o.sqliteCacheMb != null) return override(o.sqliteCacheMb, "set in config");
  const mem = memoryMb(facts);
  const v = Math.min(256, Math.max(4, Math.round(mem / 64)));
  return heuristic(v, `1/64 of ${mem} MiB RAM, between 4 and 256 MiB: the memory database is small and the OS page cache does the rest`);
}

/** The largest model (in billions of parameters) this CPU or GPU runs at a usable speed (a few tokens per second). */
function computeCapB(facts: HardwareFacts): { cap: number; why: string } {
  const { cpu, gpu, arch } = facts;
  const perf = Math.min(cpu.performanceCores, cpu.usableCpus);
  // /proc does not tell a discrete GPU's memory; 8B at Q4 fits the 6-8 GiB cards that are common.
  if (gpu.usable && gpu.unifiedMemory) return { cap: 70, why: "GPU offload over shared memory" };
  if (gpu.usable) return { cap: 8, why: "GPU memory, which /proc does not tell: sized for a 6-8 GiB card" };
  if (arch === "x64") {
    const simd = cpu.features.avx512 ? "AVX-512" : cpu.features.avx2 ? "AVX2" : "no AVX2";
    if (cpu.features.avx2 && perf >= 8) return { cap: 14, why: `${perf} x86 cores with ${simd}` };
    if (cpu.features.avx2 && perf >= 4) return { cap: 8, why: `${perf} x86 cores with ${simd}` };
    if (cpu.features.avx2 || perf >= 4) return { cap: 3, why: `${perf} x86 core${perf === 1 ? "" : "s"} with ${simd}` };
    return { cap: 1, why: `${perf} x86 core${perf === 1 ? "" : "s"} without AVX2` };
  }
  if (arch === "arm64") {
    if (cpu.features.dotprod) return perf >= 6 ? { cap: 8, why: `${perf} Arm cores with dot product` } : { cap: 4, why: `${perf} Arm cores with dot product` };
    return perf >= 4 ? { cap: 3, why: `${perf} Arm cores without dot product` } : { cap: 1, why: `${perf} Arm cores without dot product` };
  }
  return { cap: 1, why: `a ${arch} CPU` };
}

/** The model RAM a model of this size needs: weights, a 2k-token KV cache and compute buffers. */
function neededMb(paramsB: number, bytesPerParam: number): number {
  const weights = (paramsB * 1e9 * bytesPerParam) / MiB;
  const kv = 64 * Math.pow(paramsB, 0.75);
  return weights + kv + 100;
}

export function tuneRecommendedModel(facts: HardwareFacts, budgetMb: number): Choice<{ maxParamsB: number; quantization: string }> {
  const { cap, why } = computeCapB(facts);
  const quant: keyof typeof BYTES_PER_PARAM = budgetMb < 2048 ? "Q4_0" : "Q4_K_M";
  const fits = MODEL_SIZES_B.filter((p) => neededMb(p, BYTES_PER_PARAM[quant]) <= budgetMb);
  const byMemory = fits[fits.length - 1];
  if (byMemory === undefined) {
    return heuristic({ maxParamsB: 0.1, quantization: "Q4_0" }, `a ${budgetMb} MiB model budget is too small even for a 0.1B model: expect swapping, or use a larger node`);
  }
  const maxParamsB = Math.min(byMemory, cap);
  const quantization = facts.gpu.usable && facts.gpu.unifiedMemory && neededMb(maxParamsB, BYTES_PER_PARAM.Q8_0) <= budgetMb ? "Q8_0" : quant;
  const limit = byMemory <= cap ? `the ${budgetMb} MiB budget` : `${facts.gpu.usable ? why : `speed on ${why}`} (the ${budgetMb} MiB budget would hold ${byMemory}B)`;
  const qWhy = quantization === "Q4_0" ? "Q4_0: smallest, and repacked for fast Arm and x86 kernels" : quantization === "Q8_0" ? "Q8_0: near-lossless, the GPU has the room" : "Q4_K_M: the usual quality/size balance";
  return heuristic({ maxParamsB, quantization }, `up to ${maxParamsB}B parameters, limited by ${limit}; ${qWhy}`);
}

export interface SequenceChoices {
  parallelSequences: Choice<number>;
  contextSize: Choice<number>;
  batchSize: Choice<number>;
}

/** KV cache bytes per token of context: K and V, f16, per layer. */
export function kvBytesPerToken(m: ModelShape): number {
  return 2 * m.layers * m.kvWidth * 2;
}

/** Sequences per runner tuning aims for: a household chatting at once. */
export const TARGET_SEQUENCES = 4;

const MEASURED_QUEUE = "measured on 2 vCPUs: with 1 sequence the 4th of 4 users waited 31.8 s for a first token; with 4 sequences batched together 4 users got 16.0 tokens/s in all against 8.2 for one (llama-server with 4 slots beside it: 4.2), and with the prompts of users who arrive together in one decode the slowest first token came at 0.67 of llama-server's (3 rounds, bench llamaRef)";

/**
 * Parallel sequences per runner and context per sequence within one runner's
 * memory: the KV cache grows with context × sequences, so context shrinks to
 * 2k first, then sequences to 2, context to 1k, sequences to 1, context to 512.
 */
export function tuneSequences(facts: HardwareFacts, o: TuningOverrides, runnerMb: number, inferenceCores: number, model: ModelShape | null | undefined): SequenceChoices {
  const m = model ?? ASSUMED_MODEL;
  const modelDesc = model ? "the loaded model" : "an assumed 1B-class model";
  const perToken = kvBytesPerToken(m);
  const overheadMb = 96 + (m.fileBytes / MiB) * 0.1;
  const kvBudgetBytes = Math.max(0, (runnerMb - m.fileBytes / MiB - overheadMb) * MiB);

  let seq = o.parallelSequences ?? TARGET_SEQUENCES;
  let ctx = o.contextSize ?? Math.min(4096, Math.max(512, m.trainContext));
  const fits = (): boolean => ctx * seq * perToken <= kvBudgetBytes;
  const floors: Array<["ctx" | "seq", number]> = [["ctx", 2048], ["seq", 2], ["ctx", 1024], ["seq", 1], ["ctx", 512]];
  for (const [what, floor] of floors) {
    if (what === "ctx" && o.contextSize == null) while (!fits() && ctx > floor) ctx = Math.max(floor, ctx / 2);
    if (what === "seq" && o.parallelSequences == null) while (!fits() && seq > floor) seq--;
  }
  const kvMb = Math.round((ctx * seq * perToken) / MiB);
  const tight = !fits() ? `; even this does not fit the ${runnerMb} MiB runner beside ${modelDesc} (${Math.round(m.fileBytes / MiB)} MiB): expect swapping` : "";
  const on = facts.gpu.usable ? "the GPU" : `${inferenceCores} generation core${inferenceCores === 1 ? "" : "s"}`;

  let parallelSequences: Choice<number>;
  if (o.parallelSequences != null) parallelSequences = override(o.parallelSequences, "set in config");
  else if (seq === TARGET_SEQUENCES)
    parallelSequences = heuristic(seq, `${seq} generations at once per runner on ${on}: their decode steps share one batch, so a household chatting together does not wait in line (${MEASURED_QUEUE}); KV cache ${kvMb} MiB for ${modelDesc}`);
  else
    parallelSequences = heuristic(seq, `${seq === 1 ? "one generation at a time" : `${seq} generations at once`} per runner (${TARGET_SEQUENCES} wanted): the KV cache of more would not fit the ${runnerMb} MiB runner beside ${modelDesc}; KV cache ${kvMb} MiB${tight}`);
  const contextSize =
    o.contextSize != null
      ? override(o.contextSize, "set in config")
      : heuristic(ctx, tight ? `${ctx} tokens per sequence, the smallest offered${tight}` : `${ctx} tokens per sequence: ${ctx}×${seq} tokens × ${Math.round(perToken / 1024)} KiB of KV cache fits the ${runnerMb} MiB runner beside ${modelDesc}`);

  let batchSize: Choice<number>;
  if (o.batchSize != null) batchSize = override(o.batchSize, "set in config");
  else {
    const b = Math.min(ctx, facts.gpu.usable ? 1024 : runnerMb < 1024 ? 256 : 512);
    batchSize = heuristic(b, b < 512 && !facts.gpu.usable ? `${b}: smaller compute buffers for a ${runnerMb} MiB runner` : `${b} tokens per prompt batch${facts.gpu.usable ? " (the GPU likes large batches)" : ", llama.cpp's default"}, at most the context`);
  }
  return { parallelSequences, contextSize, batchSize };
}
