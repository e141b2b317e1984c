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
   * A conversation id: the turn reuses the KV cache of earlier turns. With
   * `userId` and the memory service installed it names a stored conversation
   * of that user: its messages are put before `messages`, and the new
   * messages and the answer are appended to it (an aborted answer too, marked).
   */
  conversationId?: string;
  /** Whose conversation and memories these are (the caller's principal; "local" without auth). */
  userId?: string;
  /**
   * Retrieved memory context (RAG) for the last user message, put into the
   * system prompt; needs `userId` and the memory service. `true` uses the defaults.
   */
  memory?: boolean | MemoryContextOptions;
  signal?: AbortSignal;
  /** Called with each piece of text as it is generated (streaming). */
  onText?: (text: string) => void;
}

export interface MemoryContextOptions {
  /** Memories to consider (default 12). */
  topK?: number;
  /** Tokens the context may take (default memory.ragTokenBudget, at most a quarter of the context window). */
  tokenBudget?: number;
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
  /** Memory ids whose text was put into the prompt (present when memory context was asked for). */
  citations?: number[];
  /** The stored conversation this turn was appended to (present when it was). */
  conversation?: { id: string; messageIds: number[]; userMessageId: number | null; assistantMessageId: number | null };
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
  /** The installed model a request without a name gets (the configured one, else the first of its kind); throws NO_MODEL. */
  resolveModel(kind: "llm" | "embedding", name?: string): ModelEntry;
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
 * memory service implements it (services/memory/MemoryService.ts); inference
 * never imports memory's files and checks for the methods at run time.
 */
export interface ChatMemory {
  /** The stored messages of the user's conversation, oldest first; throws CONVERSATION_NOT_FOUND. */
  chatHistory(userId: string, conversationId: string): ChatMessage[];
  /** Appends the turn's new messages and the answer (null: none to keep); `meta` goes with the answer. Returns the stored ids in order. */
  recordChatTurn(
    userId: string,
    conversationId: string,
    turn: { messages: ChatMessage[]; answer: ChatMessage | null; meta: Record<string, unknown> },
  ): number[];
  /** RAG: the most relevant memories as prompt text within a token budget, with the ids it cites. */
  retrieveContext(query: string, options: { userId: string; tokenBudget?: number; limit?: number }): Promise<{ text: string; citations: number[]; tokens: number }>;
}
