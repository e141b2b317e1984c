/** A chosen value and the one-line reason for it, shown by `sovereign hardware`. */
export interface Choice<T> {
  value: T;
  reason: string;
  /** Where the value came from. */
  source: "heuristic" | "calibration" | "override";
}

/** Everything tuning decides. `tune(facts, overrides, calibration)` is pure. */
export interface Tuning {
  generationThreads: Choice<number>;
  promptThreads: Choice<number>;
  /** The one count node-llama-cpp takes for both phases today, and why. */
  engineThreads: Choice<number>;
  parallelSequences: Choice<number>;
  contextSize: Choice<number>;
  batchSize: Choice<number>;
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
