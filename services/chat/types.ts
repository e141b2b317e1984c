/** Public types of services/chat: what `app.chat` offers to the OpenAI chat route, the web UI (through it) and other front ends. */
import type { ChatMessage, FinishReason, GenerateRequest, GenerateResult, SamplingOptions } from "../inference/types.js";

export interface MemoryContextOptions {
  /** Memories to consider (default 12). */
  topK?: number;
  /** Tokens the context may take (default memory.ragTokenBudget, at most a quarter of the context window). */
  tokenBudget?: number;
}

/** One chat turn. */
export interface ChatRequest extends Pick<GenerateRequest, "model" | "sampling" | "signal" | "onText" | "tools" | "onToolCall"> {
  /** The new turn: system messages (first), then the new user message(s). With a stored conversation, its history goes between them. */
  messages: ChatMessage[];
  /** Whose conversation and memories these are: the caller's user id ("local" on a node nobody has claimed). */
  userId: string;
  /**
   * A stored conversation of `userId`: its messages are put before the new
   * ones, and the new messages and the answer are appended to it (an aborted
   * answer too, marked). Unknown or another user's: CONVERSATION_NOT_FOUND.
   */
  conversationId?: string;
  /** Retrieved memory context (RAG) for the last user message, put into the system prompt. `true` uses the defaults. */
  memory?: boolean | MemoryContextOptions;
  /**
   * Called once the node that answers is known, before the first text (and
   * before returning when there is none): "local" or a peer's node id. A
   * stream's headers can name it.
   */
  onServedBy?: (servedBy: string) => void;
}

/** Which node generated a turn. */
export interface ServedBy {
  /** "local", or the node id of the federation peer that generated the answer. */
  servedBy: string;
  /** The peer's name from its signed manifest (absent when local). */
  servedByName?: string;
}

export interface ChatResult extends GenerateResult, ServedBy {
  /** Memory ids whose text was put into the prompt (present when memory context was asked for). */
  citations?: number[];
  /** The stored conversation this turn was appended to (present when it was). */
  conversation?: { id: string; messageIds: number[]; userMessageId: number | null; assistantMessageId: number | null };
}

/** A turn a peer generated, as metrics observe it (local turns are observed by inference). */
export interface OffloadedGeneration {
  peer: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** From handing the turn to the peer to its first chunk here, in ms (null: no text came). */
  firstTokenMs: number | null;
  totalMs: number;
  /** Chunks after the first per second of streaming, as seen here (null: fewer than two tokens). */
  tokensPerSecond: number | null;
}

/** What `app.chat` offers. */
export interface ChatApi {
  /** Runs one chat turn (streaming through `onText` when given) on this node or a peer, and records it in the conversation. */
  complete(request: ChatRequest): Promise<ChatResult>;
  /** Calls `listener` after each turn a peer generated; returns a function that unsubscribes. */
  onOffloaded(listener: (g: OffloadedGeneration) => void): () => void;
}

/** An offloaded request as it travels to a peer (federation's ChatRequest, localInference.ts). */
export interface OffloadRequest {
  messages: ChatMessage[];
  model?: string;
  sampling?: SamplingOptions;
  trimmable?: { start: number; count: number };
}

/**
 * What the offload decision needs of federation (FederationService.offload
 * implements it). Chat reads it per turn through federation's accessor; null
 * when federation is not loaded, off, or federation.offload.enabled is false.
 */
export interface ChatOffload {
  /** The best trusted core peer with a free slot and `model` installed (any chat model when undefined), or null. */
  peerFor(model: string | undefined): { nodeId: string; name: string } | null;
  /**
   * One request to that peer: yields its text and returns its account
   * (undefined from a peer that sends none). Throws a FED_OFFLOAD_* error when
   * the peer fails, within federation.offload.firstTokenTimeoutMs before its
   * first chunk and federation.offload.idleTimeoutMs between chunks.
   */
  fromPeer(peer: string, request: OffloadRequest, signal?: AbortSignal): AsyncGenerator<string, PeerAccount | undefined>;
}

/** What a peer reports when it has generated a turn. */
export interface PeerAccount {
  model: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: FinishReason;
}

/** An audit event chat records (app.audit.record's input). */
export interface ChatAuditEvent {
  type: string;
  actor?: string | null;
  subject?: string | null;
  details?: Record<string, unknown>;
}

/** What chat needs of the memory service (`app.memory` implements it). */
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
