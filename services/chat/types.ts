/** Public types of services/chat: what `app.chat` offers to the OpenAI chat route, the web UI (through it) and other front ends. */
import type { ChatMessage, GenerateRequest, GenerateResult } from "../inference/types.js";

export interface MemoryContextOptions {
  /** Memories to consider (default 12). */
  topK?: number;
  /** Tokens the context may take (default memory.ragTokenBudget, at most a quarter of the context window). */
  tokenBudget?: number;
}

/** One chat turn. */
export interface ChatRequest extends Pick<GenerateRequest, "model" | "sampling" | "signal" | "onText"> {
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
}

export interface ChatResult extends GenerateResult {
  /** Memory ids whose text was put into the prompt (present when memory context was asked for). */
  citations?: number[];
  /** The stored conversation this turn was appended to (present when it was). */
  conversation?: { id: string; messageIds: number[]; userMessageId: number | null; assistantMessageId: number | null };
}

/** What `app.chat` offers. */
export interface ChatApi {
  /** Runs one chat turn (streaming through `onText` when given) and records it in the conversation. */
  complete(request: ChatRequest): Promise<ChatResult>;
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
