import { setting } from "../../core/config/setting.js";
import type { SettingValues } from "../../core/config/Config.js";

/** Settings of services/inference: models, the engine, the queue and uploads. */
export const inferenceSettings = [
  setting.optionalPath({
    key: "inference.modelsDir", env: "SOVEREIGN_MODELS_DIR", flag: "--models-dir",
    help: "Where installed models and their manifest live. Defaults to <dataDir>/models.",
  }),
  setting.list({
    key: "inference.importDirs", env: "SOVEREIGN_MODEL_IMPORT_DIRS", flag: "--model-import-dirs", default: [],
    help: "Directories from which POST /api/models {\"path\"} may install a GGUF file (regular files only, symlinks resolved). Empty: the models directory and <dataDir>/import. The CLI's `sovereign model add` is not limited.",
  }),
  setting.optionalString({
    key: "inference.defaultModel", env: "SOVEREIGN_DEFAULT_MODEL", flag: "--default-model",
    help: "Chat model loaded when a request names none (\"auto\" = the first installed chat model).",
  }),
  setting.optionalString({
    key: "inference.embeddingModel", env: "SOVEREIGN_EMBEDDING_MODEL", flag: "--embedding-model",
    help: "Embedding model used when a request names none (\"auto\" = the first installed embedding model).",
  }),
  setting.integer({
    key: "inference.idleUnloadMinutes", env: "SOVEREIGN_IDLE_UNLOAD_MINUTES", flag: "--idle-unload-minutes", default: 15, min: 0, max: 10_080,
    help: "Minutes without requests after which a loaded model is unloaded to free RAM (0 = never). It loads again on demand.",
  }),
  setting.autoInteger({
    key: "inference.queueMax", env: "SOVEREIGN_QUEUE_MAX", flag: "--queue-max", min: 0, max: 10_000,
    help: "Requests that may wait for a generation slot; beyond it they get 429 with Retry-After. \"auto\" = 4 × parallel sequences.",
  }),
  setting.integer({
    key: "inference.queueTimeoutSeconds", env: "SOVEREIGN_QUEUE_TIMEOUT_SECONDS", flag: "--queue-timeout-seconds", default: 120, min: 1, max: 3600,
    help: "Longest wait in the queue before a request gets 503 with Retry-After.",
  }),
  setting.integer({
    key: "inference.maxTokensDefault", env: "SOVEREIGN_MAX_TOKENS_DEFAULT", flag: "--max-tokens-default", default: 512, min: 1, max: 1_048_576,
    help: "Tokens generated when a request sets no max_tokens (always capped by the context left).",
  }),
  setting.integer({
    key: "inference.uploadLimitBytes", env: "SOVEREIGN_UPLOAD_LIMIT_BYTES", flag: "--upload-limit-bytes", default: 34_359_738_368, min: 1024,
    help: "Largest model file accepted by the upload route, in bytes.",
  }),
  setting.integer({
    key: "inference.embeddingBatchSize", env: "SOVEREIGN_EMBEDDING_BATCH_SIZE", flag: "--embedding-batch-size", default: 32, min: 1, max: 1024,
    help: "Texts per embedding forward pass.",
  }),
  setting.enum({
    key: "inference.engineMode", env: "SOVEREIGN_ENGINE_MODE", flag: "--engine-mode", values: ["runner", "in-process"] as const, default: "runner",
    help: "Where llama.cpp runs: \"runner\" = supervised child processes (a native abort, an out-of-memory model or a hung engine costs one request, never the node); \"in-process\" = in the node itself (only for comparing speed).",
  }),
  setting.enum({
    key: "inference.speculative", env: "SOVEREIGN_SPECULATIVE", flag: "--speculative", values: ["auto", "on", "off"] as const, default: "auto",
    help: "Prompt-lookup speculative decoding (node-llama-cpp's input-lookup token predictor): answers that copy from their prompt (RAG answers, summaries, edits) may generate faster. \"auto\" = off until `npm run bench speculative` measures more than 1.2x on a board (it measured 0.87-0.97x on the small models here).",
  }),
  setting.enum({
    key: "inference.threadAdapter", env: "SOVEREIGN_THREAD_ADAPTER", flag: "--thread-adapter", values: ["on", "off"] as const, default: "on",
    help: "Generation threads adapt while the engine runs: between tuning.generationThreads and tuning.promptThreads, by the engine's own step timings (up while the higher count is faster, down when another process stalls it). \"off\" = generation stays at tuning.generationThreads (`npm run bench llamaRef` compares both).",
  }),
  setting.integer({
    key: "inference.streamIntervalMs", env: "SOVEREIGN_STREAM_INTERVAL_MS", flag: "--stream-interval-ms", default: 40, min: 0, max: 5000,
    help: "A runner sends a streamed answer's text to the node at most this often, in ms: the first piece at once, later ones gathered (each message costs the node and its client CPU that llama.cpp's threads wait on). 0 = every token as it comes.",
  }),
  setting.integer({
    key: "inference.runnerHeartbeatTimeoutMs", env: "SOVEREIGN_RUNNER_HEARTBEAT_TIMEOUT_MS", flag: "--runner-heartbeat-timeout-ms", default: 5000, min: 1000, max: 600_000,
    help: "A runner that answers no heartbeat for this long (stopped, or wedged) is killed and replaced; its request ends with engine_crashed.",
  }),
  setting.integer({
    key: "inference.runnerStartTimeoutSeconds", env: "SOVEREIGN_RUNNER_START_TIMEOUT_SECONDS", flag: "--runner-start-timeout-seconds", default: 60, min: 5, max: 3600,
    help: "A new runner that has not loaded llama.cpp in this many seconds is killed, and the request that needed it gets 503 engine_unavailable (the next request starts another). Raise it where the disk or the CPU is very slow: under emulation beside another guest a first start took over 60 s.",
  }),
] as const;

declare module "../../core/config/Config.js" {
  interface Config extends SettingValues<typeof inferenceSettings> {}
}
