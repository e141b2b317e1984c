import { setting } from "./setting.js";
import type { SettingValues } from "./Config.js";

/** Settings every layer reads: node name, HTTP server, paths, logging and tuning overrides. */
export const coreSettings = [
  setting.optionalString({
    key: "node.name", env: "SOVEREIGN_NODE_NAME", flag: "--node-name",
    pattern: /^[a-z0-9][a-z0-9-]{0,62}$/, patternHelp: "lowercase letters, digits and '-' (at most 63)",
    help: "A human name for this node, shown in the UI and to peers. Defaults to the host name.",
  }),
  setting.string({
    key: "server.host", env: "SOVEREIGN_HOST", flag: "--host", default: "127.0.0.1",
    help: "Address to listen on. 127.0.0.1 serves this machine only; images set 0.0.0.0 to serve the LAN.",
  }),
  setting.integer({
    key: "server.port", env: "SOVEREIGN_PORT", flag: "--port", default: 8080, min: 0, max: 65535,
    help: "TCP port of the HTTP server (0 picks a free port).",
  }),
  setting.list({
    key: "server.allowedHosts", env: "SOVEREIGN_ALLOWED_HOSTS", flag: "--allowed-hosts", default: [],
    help: "Extra host names accepted in the Host header, beyond the node's own names, addresses and localhost.",
  }),
  setting.list({
    key: "server.corsOrigins", env: "SOVEREIGN_CORS_ORIGINS", flag: "--cors-origins", default: [],
    help: "Web origins (such as https://chat.example.org, chrome-extension://<id>, or * for any) whose pages may call the OpenAI and Ollama APIs (/v1, /ollama, the Ollama port) from a browser. Such calls carry an API key, never the panel's cookies. Empty: no cross-origin calls.",
  }),
  setting.integer({
    key: "server.bodyLimitBytes", env: "SOVEREIGN_BODY_LIMIT", flag: "--body-limit", default: 1_048_576, min: 1024,
    help: "Largest JSON request body accepted, in bytes. Uploads have their own limit.",
  }),
  setting.integer({
    key: "server.shutdownTimeoutMs", env: "SOVEREIGN_SHUTDOWN_TIMEOUT_MS", flag: "--shutdown-timeout-ms", default: 10_000, min: 100, max: 600_000,
    help: "How long a graceful shutdown may take before the process exits anyway.",
  }),
  setting.path({
    key: "paths.dataDir", env: "SOVEREIGN_DATA_DIR", flag: "--data-dir", default: "./data",
    help: "Where the database, models, keys and backups live. Images use /var/lib/sovereign.",
  }),
  setting.enum({
    key: "log.level", env: "SOVEREIGN_LOG_LEVEL", flag: "--log-level",
    values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const, default: "info",
    help: "Least severe log level written.",
  }),
  setting.enum({
    key: "log.format", env: "SOVEREIGN_LOG_FORMAT", flag: "--log-format",
    values: ["auto", "json", "pretty"] as const, default: "auto",
    help: "\"auto\" is pretty on a terminal outside production (NODE_ENV=production) and JSON otherwise.",
  }),
  setting.integer({
    key: "watchdog.maxEventLoopDelayMs", env: "SOVEREIGN_MAX_EVENT_LOOP_DELAY_MS", flag: "--max-event-loop-delay-ms", default: 10_000, min: 10,
    // A loop that never runs sends no ping at all; this catches one that runs but stalls for long. Two
    // failed checks (15 s apart under WatchdogSec=30) restart the node, so a few seconds' block on a slow
    // board under load (a claim's scrypt beside a model load) must not count: 2 s did, under emulation.
    help: "Longest event-loop block between two self-checks above which the check fails, so systemd's watchdog stops being fed (and /readyz says not ready).",
  }),
  setting.autoInteger({
    key: "tuning.generationThreads", env: "SOVEREIGN_GENERATION_THREADS", flag: "--generation-threads", min: 1, max: 256,
    help: "Threads for token generation. \"auto\" uses calibration, then the hardware heuristics.",
  }),
  setting.autoInteger({
    key: "tuning.promptThreads", env: "SOVEREIGN_PROMPT_THREADS", flag: "--prompt-threads", min: 1, max: 256,
    help: "Threads for prompt processing (batch evaluation).",
  }),
  setting.autoInteger({
    key: "tuning.parallelSequences", env: "SOVEREIGN_PARALLEL_SEQUENCES", flag: "--parallel-sequences", min: 1, max: 64,
    help: "Generations that run at once; more requests wait in the queue.",
  }),
  setting.autoInteger({
    key: "tuning.contextSize", env: "SOVEREIGN_CONTEXT_SIZE", flag: "--context-size", min: 128, max: 1_048_576,
    help: "Context window per sequence, in tokens.",
  }),
  setting.autoInteger({
    key: "tuning.batchSize", env: "SOVEREIGN_BATCH_SIZE", flag: "--batch-size", min: 1, max: 65_536,
    help: "Prompt-processing batch size, in tokens.",
  }),
  setting.autoInteger({
    key: "tuning.gpuLayers", env: "SOVEREIGN_GPU_LAYERS", flag: "--gpu-layers", min: 0, max: 1000,
    help: "Model layers offloaded to the GPU (0 keeps everything on the CPU).",
  }),
  setting.autoInteger({
    key: "tuning.embeddingThreads", env: "SOVEREIGN_EMBEDDING_THREADS", flag: "--embedding-threads", min: 1, max: 256,
    help: "Intra-op threads of the embedding model.",
  }),
  setting.autoInteger({
    key: "tuning.modelRamBudgetMb", env: "SOVEREIGN_MODEL_RAM_BUDGET_MB", flag: "--model-ram-budget-mb", min: 64,
    help: "RAM the model and its KV cache may use, in MiB.",
  }),
  setting.autoInteger({
    key: "tuning.sqliteCacheMb", env: "SOVEREIGN_SQLITE_CACHE_MB", flag: "--sqlite-cache-mb", min: 1, max: 65_536,
    help: "SQLite page cache, in MiB.",
  }),
  setting.autoInteger({
    key: "tuning.reservedCores", env: "SOVEREIGN_RESERVED_CORES", flag: "--reserved-cores", min: 0, max: 256,
    help: "Cores kept free of inference for the event loop, HTTP and jobs.",
  }),
] as const;

declare module "./Config.js" {
  interface Config extends SettingValues<typeof coreSettings> {}
}
