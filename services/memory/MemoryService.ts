import type BetterSqlite3 from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { chunkText } from "./chunkText.js";
import { ConversationStore, type Message, type Role } from "./ConversationStore.js";
import type { EmbedderSource } from "./Embedder.js";
import { EmbeddingWorker, type VectorSearchKind } from "./EmbeddingWorker.js";
import { EpisodeLog } from "./EpisodeLog.js";
import { hybridSearch, type SearchOptions, type SearchResult } from "./hybridSearch.js";
import { MemoryStore, type Memory, type MemoryFilters } from "./MemoryStore.js";
import { ShortTermStore } from "./ShortTermStore.js";
import { checkText, estimateTokens } from "./text.js";
import type { Config } from "../../core/config/Config.js";

export interface MemoryServiceOptions {
  embedder: EmbedderSource;
  vectorSearch: VectorSearchKind;
  maxDocumentBytes: number;
  chunkChars: number;
  chunkOverlapChars: number;
  shortTermTtlMs: number;
  ragTokenBudget: number;
  /** Tells the idle tracker that someone is using the node. */
  onActivity?: () => void;
  /** Background embedding waits on it before each batch (inference's whenIdle: users first). */
  yieldTo?: (signal: AbortSignal) => Promise<void>;
  log?: { warn: (obj: object, msg: string) => void };
}

/** The options the settings decide, shared by the node's plugin and the console CLI. */
export function memoryOptionsFromConfig(config: Config): Omit<MemoryServiceOptions, "embedder" | "onActivity" | "log"> {
  return {
    vectorSearch: config["memory.vectorSearch"],
    maxDocumentBytes: config["memory.maxDocumentBytes"],
    chunkChars: config["memory.chunkChars"],
    chunkOverlapChars: config["memory.chunkOverlapChars"],
    shortTermTtlMs: config["memory.shortTermTtlMinutes"] * 60_000,
    ragTokenBudget: config["memory.ragTokenBudget"],
  };
}

export interface AddInput {
  text: string;
  source?: string;
  title?: string;
  tags?: readonly string[];
  importance?: number;
  kind?: string;
  /** Split on headings and paragraphs (documents). Short notes stay whole. Defaults to true. */
  chunk?: boolean;
}

export interface AddResult {
  documentId: string;
  ids: number[];
  chunks: number;
}

export interface RetrievedContext {
  /** Ready to put into a prompt; empty when nothing relevant fits. */
  text: string;
  /** Memory ids the text cites, in order ("[m12]" in the text). */
  citations: number[];
  tokens: number;
}

export interface FeedbackInput {
  /** Optional when messageId names the answer: then its question is the user message before it. */
  question?: string;
  /** Optional when messageId names the answer. */
  answer?: string;
  rating: "up" | "down";
  correction?: string;
  conversationId?: string;
  messageId?: number;
}

/** `app.memory`: everything the node remembers, behind one object. */
export class MemoryService {
  readonly store: MemoryStore;
  readonly conversations: ConversationStore;
  readonly shortTerm: ShortTermStore;
  readonly episodes: EpisodeLog;
  readonly vectors: EmbeddingWorker;
  /** Prepared on first use, once. */
  private insertFeedback: BetterSqlite3.Statement | undefined;

  constructor(readonly db: BetterSqlite3.Database, private readonly options: MemoryServiceOptions) {
    this.store = new MemoryStore(db);
    this.conversations = new ConversationStore(db);
    this.shortTerm = new ShortTermStore(db, options.shortTermTtlMs);
    this.episodes = new EpisodeLog(db);
    this.vectors = new EmbeddingWorker({
      store: this.store,
      source: options.embedder,
      kind: options.vectorSearch,
      ...(options.yieldTo ? { yieldTo: options.yieldTo } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
  }

  /**
   * Stores a note or a document as long-term memory. Documents are chunked on
   * their structure; every chunk is searchable by words when this returns and
   * is embedded in the background.
   */
  add(userId: string, input: AddInput): AddResult {
    const text = checkText(input.text, this.options.maxDocumentBytes, "document");
    const documentId = randomUUID();
    const source = (input.source ?? input.title ?? "note").trim().slice(0, 200) || "note";
    const chunks =
      input.chunk === false || text.length <= this.options.chunkChars
        ? [{ text: text.trim(), index: 0 }]
        : chunkText(text, { maxChars: this.options.chunkChars, overlapChars: this.options.chunkOverlapChars });
    const now = Date.now();
    const ids = this.store.insertMany(
      chunks.map((c) => ({
        userId,
        text: c.text,
        source,
        kind: input.kind ?? (chunks.length > 1 ? "document" : "note"),
        tags: input.tags ?? [],
        importance: input.importance ?? 0.5,
        createdAt: now,
        documentId,
        chunkIndex: c.index,
      })),
    );
    this.options.onActivity?.();
    this.vectors.kick();
    return { documentId, ids, chunks: ids.length };
  }

  get(userId: string, id: number): Memory {
    const m = this.store.get(userId, id);
    if (!m) throw new SovereignError("MEMORY_NOT_FOUND", `No memory ${id}.`);
    return m;
  }

  delete(userId: string, id: number): void {
    const deleted = this.store.delete(userId, [id]);
    if (deleted.length === 0) throw new SovereignError("MEMORY_NOT_FOUND", `No memory ${id}.`);
    this.vectors.removeFromIndex(deleted);
  }

  search(userId: string, query: string, options: SearchOptions = {}): Promise<SearchResult> {
    return hybridSearch(this.store, this.vectors, userId, query, options);
  }

  /**
   * RAG: the memories most relevant to `query`, formatted for a prompt within
   * `tokenBudget` tokens, with the ids they cite. Never throws for an empty or
   * odd query: the chat goes on without context.
   */
  async retrieveContext(query: string, options: { userId: string; tokenBudget?: number; limit?: number; filters?: MemoryFilters }): Promise<RetrievedContext> {
    const budget = options.tokenBudget ?? this.options.ragTokenBudget;
    if (!query || query.trim().length === 0 || budget <= 0) return { text: "", citations: [], tokens: 0 };
    const { hits } = await this.search(options.userId, query, { limit: options.limit ?? 12, ...options.filters });
    const header = "Notes from memory that may help (cite them as [m<id>]):";
    let used = estimateTokens(header);
    const parts: string[] = [];
    const citations: number[] = [];
    for (const hit of hits) {
      const m = hit.memory;
      const label = m.kind === "correction" ? "correction from the user" : m.source;
      const entry = `[m${m.id}] (${label}) ${m.text.replace(/\s+/g, " ").trim()}`;
      const cost = estimateTokens(entry) + 1;
      if (used + cost > budget) continue;
      parts.push(entry);
      citations.push(m.id);
      used += cost;
    }
    if (parts.length === 0) return { text: "", citations: [], tokens: 0 };
    return { text: [header, ...parts].join("\n"), citations, tokens: used };
  }

  /**
   * For the chat service (chat's ChatMemory): the user's stored
   * conversation as chat messages, oldest first. Tool messages are left out.
   */
  chatHistory(userId: string, conversationId: string): Array<{ role: "system" | "user" | "assistant"; content: string }> {
    return this.conversations
      .messages(userId, conversationId)
      .filter((m): m is Message & { role: "system" | "user" | "assistant" } => m.role !== "tool")
      .map((m) => ({ role: m.role, content: m.content }));
  }

  /** Appends a chat turn (the new messages, then the answer with `meta`) in one transaction; returns the ids in order. */
  recordChatTurn(
    userId: string,
    conversationId: string,
    turn: { messages: ReadonlyArray<{ role: Role; content: string }>; answer: { role: Role; content: string } | null; meta: Record<string, unknown> },
  ): number[] {
    const rows = [...turn.messages.map((m) => ({ role: m.role, content: m.content })), ...(turn.answer ? [{ ...turn.answer, meta: turn.meta }] : [])];
    if (rows.length === 0) return [];
    this.options.onActivity?.();
    return this.conversations.append(userId, conversationId, rows).map((m) => m.id);
  }

  /**
   * Learning from feedback: every rating is an episode; a correction becomes
   * an important memory that later questions on the same subject retrieve; a
   * good answer is kept as a modest one.
   */
  feedback(userId: string, input: FeedbackInput): { feedbackId: number; memoryId: number | null } {
    const target = this.feedbackTarget(userId, input);
    const question = checkText(input.question ?? target?.question ?? "", this.options.maxDocumentBytes, "question");
    const answer = input.answer ?? target?.answer ?? "";
    const correction = input.correction?.trim() ? checkText(input.correction, this.options.maxDocumentBytes, "correction") : undefined;
    let memoryId: number | null = null;
    if (correction) {
      memoryId = this.add(userId, {
        text: `Question: ${question.trim()}\nCorrect answer: ${correction.trim()}`,
        source: "feedback",
        kind: "correction",
        tags: ["feedback", "correction"],
        importance: 0.9,
        chunk: false,
      }).ids[0] ?? null;
    } else if (input.rating === "up" && answer.trim()) {
      memoryId = this.add(userId, {
        text: `Question: ${question.trim()}\nGood answer: ${answer.trim()}`,
        source: "feedback",
        kind: "answer",
        tags: ["feedback"],
        importance: 0.6,
        chunk: false,
      }).ids[0] ?? null;
    }
    this.insertFeedback ??= this.db.prepare(
      `INSERT INTO feedback (user_id, conversation_id, message_id, question, answer, rating, correction, memory_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const feedbackId = Number(
      this.insertFeedback
        .run(userId, input.conversationId ?? null, input.messageId ?? null, question, answer, input.rating, correction ?? null, memoryId, Date.now())
        .lastInsertRowid,
    );
    this.episodes.record("feedback", `answer rated ${input.rating}${correction ? " with a correction" : ""}`, { feedbackId, memoryId, conversationId: input.conversationId ?? null }, userId);
    return { feedbackId, memoryId };
  }

  /**
   * The answer a rating is about, by the ids the chat returned
   * (conversation_id and assistant_message_id): its text and the user message before it.
   */
  private feedbackTarget(userId: string, input: FeedbackInput): { question: string | undefined; answer: string } | undefined {
    if (input.messageId === undefined) return undefined;
    if (!input.conversationId) throw new SovereignError("BAD_REQUEST", "messageId needs the conversationId it belongs to.");
    const messages = this.conversations.messages(userId, input.conversationId);
    const i = messages.findIndex((m) => m.id === input.messageId);
    const message = messages[i];
    if (!message) throw new SovereignError("BAD_REQUEST", `Message ${input.messageId} is not in conversation ${input.conversationId}.`, { details: { param: "messageId" } });
    if (message.role !== "assistant") throw new SovereignError("BAD_REQUEST", `Message ${input.messageId} is not an answer (its role is ${message.role}).`, { details: { param: "messageId" } });
    const question = messages.slice(0, i).reverse().find((m) => m.role === "user")?.content;
    return { question, answer: message.content };
  }

  stats(userId?: string): { memories: number; vectors: ReturnType<EmbeddingWorker["status"]> } {
    return { memories: this.store.count(userId), vectors: this.vectors.status() };
  }

  start(): void {
    this.vectors.start();
  }

  async stop(): Promise<void> {
    await this.vectors.stop();
  }
}
