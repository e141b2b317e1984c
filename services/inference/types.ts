/** Public types of services/inference: what `app.inference` offers to the web UI, metrics, memory and federation. */
import type { ModelEntry, ModelRegistry } from "./ModelRegistry.js";
import type { QueueStats } from "./RequestQueue.js";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export type FinishReason = "stop" | "length" | "abort";

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
  /** Constrains output to any JSON value. */
  json?: boolean;
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
   * A conversation id: the turn reuses the KV cache of earlier turns, and
   * with `memory` set the memory service supplies history and context.
   */
  conversationId?: string;
  /** Ask the memory service (when installed) for history and retrieved context. */
  memory?: boolean;
  signal?: AbortSignal;
  /** Called with each piece of text as it is generated (streaming). */
  onText?: (text: string) => void;
}

export interface GenerateResult {
  model: string;
  text: string;
  finishReason: FinishReason;
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
}

/** What `app.inference` offers. */
export interface InferenceApi {
  readonly registry: ModelRegistry;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  embed(request: EmbedRequest): Promise<EmbedResult>;
  status(): InferenceStatus;
  /** Installed models (manifest entries). */
  models(): ModelEntry[];
  /** Loads (or switches to) a chat model now. */
  load(name?: string): Promise<void>;
  /** Unloads every model (they load again on demand). */
  unload(): Promise<void>;
}

/**
 * What inference asks of the memory service when `app.memory` exists. The
 * memory service implements it (duck-typed at run time); inference never
 * imports memory's files. Every method is optional.
 */
export interface ConversationStore {
  /** Earlier messages of the conversation, oldest first. */
  history?(conversationId: string): Promise<ChatMessage[]> | ChatMessage[];
  /** Records a finished turn (the new user message and the reply). */
  appendTurn?(conversationId: string, turn: { user: ChatMessage; assistant: ChatMessage; model: string }): Promise<void> | void;
  /** Passages relevant to the query (RAG), added as a system message. */
  retrieve?(query: string, options: { conversationId?: string; limit: number }): Promise<string[]> | string[];
}
