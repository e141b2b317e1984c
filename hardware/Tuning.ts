/** A chosen value and the one-line reason for it, shown by `sovereign hardware`. */
export interface Choice<T> {
  value: T;
  reason: string;
  /** Where the value came from. */
  source: "heuristic" | "calibration" | "override";
}

/** Everything tuning decides. `tune(facts, overrides, calibration)` is pure. */
export interface Tuning {
  /** llama.cpp threads for generation steps (one token per sequence). */
  generationThreads: Choice<number>;
  /** llama.cpp threads for prompt batches. */
  promptThreads: Choice<number>;
  /**
   * The count the llama.cpp context is created with: the larger of the two.
   * node-llama-cpp sets one count for both phases, so the engine switches it
   * before each decode (prompt batches at promptThreads, generation steps at generationThreads).
   */
  engineThreads: Choice<number>;
  /** Runner processes serving the chat model at once (each with its own llama.cpp context). */
  runners: Choice<number>;
  /** Memory cap of one runner process (systemd MemoryMax on the image), in MiB. */
  runnerMemoryMaxMb: Choice<number>;
  /** Sequences generating at once in each runner (continuous batching within the runner). */
  parallelSequences: Choice<number>;
  contextSize: Choice<number>;
  batchSize: Choice<number>;
  /** The node-llama-cpp build the runners load: a GPU backend only when the probe confirmed it loads here. */
  gpuBackend: Choice<"cuda" | "vulkan" | "cpu">;
  gpuLayers: Choice<number>;
  embeddingThreads: Choice<number>;
  modelRamBudgetMb: Choice<number>;
  recommendedModel: Choice<{ maxParamsB: number; quantization: string }>;
  sqliteCacheMb: Choice<number>;
  reservedCores: Choice<number>;
  /** Cron windows for heavy jobs (summarization, backups). */
  jobWindows: Choice<{ summarize: string; backup: string }>;
}

/** Overrides from config (null = auto). They always win. */
export interface TuningOverrides {
  generationThreads?: number | null;
  promptThreads?: number | null;
  runners?: number | null;
  parallelSequences?: number | null;
  contextSize?: number | null;
  batchSize?: number | null;
  gpuLayers?: number | null;
  embeddingThreads?: number | null;
  modelRamBudgetMb?: number | null;
  sqliteCacheMb?: number | null;
  reservedCores?: number | null;
}

/** A thread sweep measured on this device with real inference (`sovereign hardware --calibrate`). */
export interface Calibration {
  measuredAt: string;
  model: string;
  /** Tokens per second by thread count. */
  sweep: Array<{ threads: number; promptTokensPerSecond: number; generationTokensPerSecond: number }>;
  bestPromptThreads: number;
  bestGenerationThreads: number;
  /** The usable CPU count at calibration time; a different count invalidates it. */
  usableCpus: number;
}

/** Shape of the model being tuned for, when one is loaded; tuning assumes a 1B-class model otherwise. */
export interface ModelShape {
  fileBytes: number;
  layers: number;
  /** KV embedding width per layer (n_embd_k_gqa), for KV cache sizing. */
  kvWidth: number;
  trainContext: number;
}
