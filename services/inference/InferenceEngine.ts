/**
 * What InferenceService asks of an engine, wherever llama.cpp runs: in a
 * supervised runner process (the default) or in this process (kept for the
 * bench comparison). Everything crossing it is plain data, so it can cross IPC.
 */
import type { ChatMessage, FinishReason, SamplingOptions, ToolCall, ToolCallDelta, ToolsSpec } from "./types.js";
import type { GatherStats } from "./gatherBatches.js";
import type { PhaseThreadStats } from "./phaseThreads.js";

export interface EngineSettings {
  /** Threads the llama.cpp context is created with: the larger of the two phase counts (tuning.engineThreads). */
  threads: number;
  /** Threads for prompt batches (tuning.promptThreads); the engine switches the count per decode (phaseThreads.ts). Defaults to `threads`. */
  promptThreads?: number;
  /** Threads for generation steps (tuning.generationThreads). Defaults to `threads`. */
  generationThreads?: number;
  /** node-llama-cpp build to load: "cuda" or "vulkan" only where tune() found it loads (tuning.gpuBackend). Defaults to false (CPU). */
  gpu?: "cuda" | "vulkan" | false;
  /** Context window per sequence, in tokens. */
  contextSize: number;
  /** Sequences generating at once. */
  sequences: number;
  batchSize: number;
  gpuLayers: number;
  /** Generation threads move between generationThreads and promptThreads by the engine's timings (inference.threadAdapter; ThreadAdapter). Defaults to true. */
  threadAdapter?: boolean;
  /** Prompt-lookup speculative decoding on every sequence (inference.speculative). Defaults to off. */
  speculative?: boolean;
  /** A runner sends a generation's text to the node at most this often, in ms (inference.streamIntervalMs; TextCoalescer). Defaults to 0: every piece. */
  streamIntervalMs?: number;
}

export interface EngineLogger {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  error?(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

/** A grammar the engine builds where llama.cpp runs: any JSON value, or JSON matching a schema. */
export interface GrammarSpec {
  json?: boolean;
  jsonSchema?: object;
}

export interface EngineRun {
  text: string;
  finishReason: FinishReason;
  /** The answer's function calls (finishReason "tool_calls"). */
  toolCalls?: ToolCall[];
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens whose KV cache was already in the sequence (not evaluated again). */
  reusedTokens: number;
  /** Milliseconds from the first generated token to the last, timed where llama.cpp emits them; null under two tokens. */
  firstToLastMs?: number | null;
}

export interface RunOptions {
  sampling: SamplingOptions;
  grammar?: GrammarSpec | undefined;
  signal?: AbortSignal | undefined;
  onText?: ((text: string) => void) | undefined;
  /** Conversation key: a follow-up turn goes to the sequence that holds its prefix. */
  key?: string | null | undefined;
  /** Chat: functions the model may call; the engine stops at the call and returns it (it never runs one). */
  tools?: ToolsSpec | undefined;
  onToolCall?: ((delta: ToolCallDelta) => void) | undefined;
}

/** How an engine ran its decodes since its model was loaded (counts only; plain data, it crosses the runner's IPC). */
export interface EngineStats {
  /** How the parallel sequences' decodes were gathered (gatherBatches.ts); null with one sequence. */
  batching: GatherStats | null;
  /** Decodes per phase and generation steps per thread count (phaseThreads.ts); null when node-llama-cpp's native context lacks the hooks. */
  threads: PhaseThreadStats | null;
  /**
   * Which llama.cpp binary runs: node-llama-cpp's prebuilt, or the local build that scripts/build-llama-addon.sh
   * makes with a persistent thread pool (generation at 2 threads 1.5x the prebuilt's speed here; issue 19).
   */
  binary: "localBuild" | "prebuilt" | null;
  /** Why the installed local build was not loaded (compiled for instruction sets this CPU lacks); null where it was, or none is installed. */
  localBuildRefused: string | null;
}

/** One loaded chat model. */
export interface InferenceEngine {
  readonly name: string;
  readonly settings: EngineSettings;
  /** The context per sequence it got (tuning, capped by the model's trained length). */
  readonly contextSize: number;
  readonly busySlots: number;
  /** False once the engine cannot serve again (its model was quarantined): the service drops it and loads afresh. Absent: always true. */
  readonly healthy?: boolean;
  tokenCount(text: string): Promise<number>;
  /** Tokens of a chat prompt as the model's chat template renders it (with the answer's opening). */
  chatPromptTokens(messages: readonly ChatMessage[]): Promise<number>;
  chat(messages: readonly ChatMessage[], options: RunOptions, defaultMaxTokens: number): Promise<EngineRun>;
  complete(prompt: string, options: RunOptions, defaultMaxTokens: number): Promise<EngineRun>;
  /** A copy of the engine's decode counts, read where llama.cpp runs (in a runner: over its `stats` message). */
  stats(): Promise<EngineStats>;
  dispose(): Promise<void>;
}

/** One loaded embedding model: L2-normalised vectors. */
export interface EngineEmbedder {
  readonly dimensions: number | null;
  embed(texts: readonly string[]): Promise<{ vectors: Float32Array[]; tokens: number }>;
  dispose(): Promise<void>;
}

/** A process that holds llama.cpp's memory: the node itself in-process, or a runner. */
export interface EngineProcessStats {
  pid: number;
  model: string;
  kind: "llm" | "embedding";
  rssBytes: number;
  /** The memory cap the runner runs under, and how it is enforced. */
  memoryCap: { bytes: number; via: string } | null;
  restarts: number;
  state: string;
  /** Requests it is serving now. */
  busy: number;
}

/** Where engines come from: loads GGUF chat and embedding models. */
export interface EngineHost {
  readonly mode: "runner" | "in-process";
  loadModel(name: string, path: string, settings: EngineSettings): Promise<InferenceEngine>;
  loadEmbedder(name: string, path: string, threads: number): Promise<EngineEmbedder>;
  /** The processes holding models now (empty in-process). */
  processes(): EngineProcessStats[];
  close(): Promise<void>;
}
