/** Public types of services/inference: what `app.inference` offers to chat, memory, federation, status and metrics. */
import type { ModelEntry, ModelRegistry } from "./ModelRegistry.js";
import type { QueueStats } from "./RequestQueue.js";
import type { EngineProcessStats, EngineStats } from "./InferenceEngine.js";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
  /** An assistant turn that called tools: the calls, each with the result the client's `tool` message gave it. */
  toolCalls?: ToolCallRecord[];
}

/** "tool_calls": the answer is one or more function calls for the client to run (OpenAI's finish reason). */
export type FinishReason = "stop" | "length" | "abort" | "tool_calls";

/** A function the model may call (OpenAI's `tools[].function`). The node never runs it: the call goes back to the client. */
export interface ToolFunction {
  name: string;
  description?: string;
  /** JSON schema of the arguments object; the arguments are generated under a grammar built from it. Absent: no arguments. */
  parameters?: object;
}

/** OpenAI's tool_choice: "auto" (the model decides), "none", "required" (at least one call), or one named function. */
export type ToolChoice = "auto" | "none" | "required" | { name: string };

export interface ToolsSpec {
  functions: ToolFunction[];
  choice: ToolChoice;
  /** Several calls in one answer (parallel_tool_calls). Defaults to true. */
  parallel: boolean;
}

/** A call the model made, in OpenAI's shape: `arguments` is a JSON string matching the function's parameters. */
export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** A call in the history, with the tool's result (the content of the `tool` message answering it). */
export interface ToolCallRecord extends ToolCall {
  result: string;
}

/** A piece of a call as it streams: the first of each call has its id and name (arguments ""), later ones add argument text. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  name?: string;
  arguments: string;
}

export interface SamplingOptions {
  /** 0–2; 0 is greedy. Defaults to 1 (as OpenAI's API). */
  temperature?: number;
  /** 0–1 nucleus sampling. Defaults to off. */
  topP?: number;
  /** Tokens to generate. Defaults to inference.maxTokensDefault, capped by the context left. */
  maxTokens?: number;
  /** Up to 4 strings that end generation (not included in the text). */
  stop?: string[];
  /** Makes sampling repeatable. Defaults to a random seed. */
  seed?: number;
  /** Constrains output to JSON matching this schema (a grammar). */
  jsonSchema?: object;
  /** Constrains output to one JSON object; generation ends when it closes. */
  json?: boolean;
  /** Keep only the k most likely tokens (0: off). */
  topK?: number;
  /** Drop tokens below this fraction of the top token's probability (0–1). */
  minP?: number;
  /** −2–2, OpenAI's: lowers a token's logit by this times its count in the recent tokens. */
  frequencyPenalty?: number;
  /** −2–2, OpenAI's: lowers the logit of any token seen in the recent tokens. */
  presencePenalty?: number;
  /** Extension (llama.cpp's repeat_penalty): divides recent tokens' logits by this; 1 is off. */
  repeatPenalty?: number;
  /** Extension (llama.cpp's repeat_last_n): how many recent tokens the penalties look at (default 64). */
  repeatLastN?: number;
  /** Token id (as a string, OpenAI's shape) → −100–100 added to its logit; −100 bans it. */
  logitBias?: Record<string, number>;
}

export interface GenerateRequest {
  /** Installed model name. Defaults to inference.defaultModel, else the first chat model. */
  model?: string;
  /** Chat: the conversation so far, ending with a user message. */
  messages?: ChatMessage[];
  /** Completion: raw prompt text (when messages is absent). */
  prompt?: string;
  sampling?: SamplingOptions;
  /**
   * Requests with the same key go to the same KV slot of the engine, so a
   * follow-up that repeats the earlier prompt (a conversation's next turn)
   * reuses its evaluated prefix. Without one, chats are keyed by their first messages.
   */
  slotKey?: string;
  /**
   * Chat: `count` messages from index `start` of `messages` (an earlier
   * conversation) that may be left out, oldest first, when the prompt would
   * not leave room for the answer. The other messages are always kept.
   */
  trimmable?: { start: number; count: number };
  /** Who asked (a user id): the queue shares slots among owners round-robin when requests wait. */
  owner?: string;
  /** A background job (summaries): queued behind every waiting interactive request. */
  background?: boolean;
  signal?: AbortSignal;
  /** Called with each piece of text as it is generated (streaming). */
  onText?: (text: string) => void;
  /** Chat: functions the model may call (function calling); the calls come back in the result, never run here. */
  tools?: ToolsSpec;
  /** Called with each piece of a tool call as it is generated (streaming). */
  onToolCall?: (delta: ToolCallDelta) => void;
}

export interface GenerateResult {
  model: string;
  text: string;
  finishReason: FinishReason;
  /** The function calls of the answer (finishReason "tool_calls"). */
  toolCalls?: ToolCall[];
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens served from the KV cache of an earlier turn. */
  reusedPromptTokens: number;
  timings: { queuedMs: number; loadMs: number; firstTokenMs: number | null; totalMs: number; tokensPerSecond: number | null };
}

export interface EmbedRequest {
  model?: string;
  input: string[];
  signal?: AbortSignal;
}

export interface EmbedResult {
  model: string;
  vectors: Float32Array[];
  tokens: number;
}

export interface InferenceStatus {
  loaded: { name: string; contextSize: number; sequences: number; threads: number; loadedAt: string } | null;
  embeddingsLoaded: string[];
  queue: QueueStats;
  /** Generation speed of the last finished request. */
  lastTokensPerSecond: number | null;
  totals: { requests: number; promptTokens: number; completionTokens: number };
  /** Where llama.cpp runs: "runner" (supervised child processes) or "in-process". */
  engineMode: "runner" | "in-process";
  /** The runner processes holding models, with their memory (empty in-process). */
  runners: EngineProcessStats[];
}

/** The loaded chat model's decode counts since it was loaded (`engine` in GET /api/inference/status). */
export interface LoadedEngineStats extends EngineStats {
  model: string;
  /** Where they were counted: a runner process (read over its `stats` message) or this process. */
  engineMode: "runner" | "in-process";
}

/** What `app.inference` offers. */
export interface InferenceApi {
  readonly registry: ModelRegistry;
  /** The installed model a request without a name gets (the configured one, else the first of its kind); throws NO_MODEL. */
  resolveModel(kind: "llm" | "embedding", name?: string): ModelEntry;
  /** The context window, in tokens, that a model gets on this node (tuning, capped by what the model was trained for). */
  contextWindow(entry: ModelEntry): number;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  embed(request: EmbedRequest): Promise<EmbedResult>;
  status(): InferenceStatus;
  /** The loaded chat model's decode counts, read where llama.cpp runs; null when no chat model is loaded. */
  engineStats(): Promise<LoadedEngineStats | null>;
  /** Installed models (manifest entries). */
  models(): ModelEntry[];
  /** Loads (or switches to) a chat model now. */
  load(name?: string): Promise<void>;
  /** Unloads every model (they load again on demand). */
  unload(): Promise<void>;
  /**
   * Calls `listener` with the result of each generation that ran on this node
   * (finished, stopped or aborted; not one refused before it ran), whatever
   * route or service asked for it: metrics observe timings here. Returns a function that unsubscribes.
   */
  onGenerated(listener: (result: GenerateResult) => void): () => void;
  /** True while an interactive generation runs or waits: background jobs yield between units of work. */
  busy(): boolean;
  /** Resolves once no interactive generation runs or waits (at once if none); rejects when `signal` aborts. */
  whenIdle(signal?: AbortSignal): Promise<void>;
}
