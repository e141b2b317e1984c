import type BetterSqlite3 from "better-sqlite3";
import { Statements } from "../db/Statements.js";
import { randomUUID } from "node:crypto";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { guardDb } from "../db/sqliteErrors.js";

export type Role = "system" | "user" | "assistant" | "tool";

/** A document attached in the chat box: ingested into memory, listed with the conversation. */
export interface ChatAttachment {
  name: string;
  documentId: string;
  chunks: number;
}

/** What the panel keeps per conversation and sends with each turn (the chat API itself stays stateless about them). */
export interface ConversationSettings {
  model?: string;
  system?: string;
  temperature?: number;
  maxTokens?: number;
  attachments?: ChatAttachment[];
}

export interface Conversation {
  id: string;
  userId: string;
  title: string;
  createdAt: string;
  updatedAt: string;
  messageCount: number;
  settings: ConversationSettings;
}

export interface Message {
  id: number;
  conversationId: string;
  role: Role;
  content: string;
  createdAt: string;
  meta: Record<string, unknown> | null;
}

interface ConvRow {
  id: string;
  user_id: string;
  title: string;
  created_at: number;
  updated_at: number;
  message_count: number;
  settings: string | null;
}
interface MsgRow {
  id: number;
  conversation_id: string;
  role: Role;
  content: string;
  created_at: number;
  meta: string | null;
}

const DEFAULT_TITLE = "New conversation";

function toConversation(r: ConvRow): Conversation {
  return {
    id: r.id,
    userId: r.user_id,
    title: r.title,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
    messageCount: r.message_count,
    settings: r.settings ? (JSON.parse(r.settings) as ConversationSettings) : {},
  };
}

export function toMessage(r: MsgRow): Message {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    role: r.role,
    content: r.content,
    createdAt: new Date(r.created_at).toISOString(),
    meta: r.meta === null ? null : (JSON.parse(r.meta) as Record<string, unknown>),
  };
}

const SELECT_CONV = `SELECT c.*, (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count FROM conversations c`;

/**
 * Chat history, per user. The chat service (services/chat) appends to it
 * (and continues a stored conversation by id); the UI lists, reads, renames,
 * deletes and exports.
 */
export class ConversationStore {
  /** Prepared once per SQL text (the few filter variants of list included). */
  private readonly sql: Statements;

  constructor(private readonly db: BetterSqlite3.Database) {
    this.sql = new Statements(db);
  }

  create(userId: string, title?: string, options: { id?: string; now?: number; settings?: ConversationSettings } = {}): Conversation {
    const now = options.now ?? Date.now();
    const id = options.id ?? randomUUID();
    guardDb(() =>
      this.sql
        .get("INSERT INTO conversations (id, user_id, title, created_at, updated_at, settings) VALUES (?, ?, ?, ?, ?, ?)")
        .run(id, userId, cleanTitle(title) ?? DEFAULT_TITLE, now, now, settingsJson(options.settings)),
    );
    return this.require(userId, id);
  }

  /** Newest first; `q` keeps those whose title or any message contains it (case-insensitive for ASCII). */
  list(userId: string, options: { limit?: number; before?: string; q?: string } = {}): Conversation[] {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
    const before = options.before ? Date.parse(options.before) : Number.MAX_SAFE_INTEGER;
    const q = options.q?.trim();
    const like = q ? `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
    const where = like
      ? ` AND (c.title LIKE @like ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.content LIKE @like ESCAPE '\\'))`
      : "";
    const rows = this.sql
      .get(`${SELECT_CONV} WHERE c.user_id = @userId AND c.updated_at < @before${where} ORDER BY c.updated_at DESC LIMIT @limit`)
      .all({ userId, before: Number.isNaN(before) ? Number.MAX_SAFE_INTEGER : before, limit, ...(like ? { like } : {}) }) as ConvRow[];
    return rows.map(toConversation);
  }

  get(userId: string, id: string): Conversation | undefined {
    const row = this.sql.get(`${SELECT_CONV} WHERE c.id = ? AND c.user_id = ?`).get(id, userId) as ConvRow | undefined;
    return row ? toConversation(row) : undefined;
  }

  require(userId: string, id: string): Conversation {
    const c = this.get(userId, id);
    if (!c) throw new SovereignError("CONVERSATION_NOT_FOUND", `No conversation ${id}.`);
    return c;
  }

  messages(userId: string, id: string, options: { limit?: number } = {}): Message[] {
    this.require(userId, id);
    const limit = Math.min(Math.max(options.limit ?? 10_000, 1), 10_000);
    const rows = this.sql
      .get("SELECT * FROM (SELECT * FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id")
      .all(id, limit) as MsgRow[];
    return rows.map(toMessage);
  }

  /** Appends messages in one transaction; the first user message names an untitled conversation. */
  append(userId: string, id: string, messages: ReadonlyArray<{ role: Role; content: string; meta?: Record<string, unknown> }>): Message[] {
    return guardDb(
      () =>
        this.db.transaction(() => {
          const conv = this.require(userId, id);
          const now = Date.now();
          const insert = this.sql.get("INSERT INTO messages (conversation_id, role, content, created_at, meta) VALUES (?, ?, ?, ?, ?)");
          const ids = messages.map((m) => Number(insert.run(id, m.role, m.content, now, m.meta ? JSON.stringify(m.meta) : null).lastInsertRowid));
          const firstUser = messages.find((m) => m.role === "user");
          if (conv.title === DEFAULT_TITLE && firstUser) {
            this.sql.get("UPDATE conversations SET title = ? WHERE id = ?").run(cleanTitle(firstUser.content) ?? DEFAULT_TITLE, id);
          }
          this.sql.get("UPDATE conversations SET updated_at = ? WHERE id = ?").run(now, id);
          return (this.sql.get("SELECT * FROM messages WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id").all(JSON.stringify(ids)) as MsgRow[]).map(toMessage);
        })(),
      "message write",
    );
  }

  rename(userId: string, id: string, title: string): Conversation {
    return this.update(userId, id, { title });
  }

  /** A new title and/or settings (settings replace the stored ones whole). */
  update(userId: string, id: string, change: { title?: string; settings?: ConversationSettings }): Conversation {
    this.require(userId, id);
    if (change.title !== undefined) {
      const t = cleanTitle(change.title);
      if (!t) throw new SovereignError("BAD_REQUEST", "The title is empty.");
      guardDb(() => this.sql.get("UPDATE conversations SET title = ? WHERE id = ? AND user_id = ?").run(t, id, userId));
    }
    if (change.settings !== undefined) {
      guardDb(() => this.sql.get("UPDATE conversations SET settings = ? WHERE id = ? AND user_id = ?").run(settingsJson(change.settings), id, userId));
    }
    return this.require(userId, id);
  }

  /** Deletes a message and every later one (regenerate, edit and resend); returns how many went. */
  truncate(userId: string, id: string, fromMessageId: number): number {
    this.require(userId, id);
    return guardDb(
      () =>
        this.db.transaction(() => {
          this.requireMessage(id, fromMessageId);
          // Message ids are rowids: the next ones may reuse these, so feedback must not keep pointing at them.
          this.sql.get("UPDATE feedback SET message_id = NULL WHERE conversation_id = ? AND message_id >= ?").run(id, fromMessageId);
          const r = this.sql.get("DELETE FROM messages WHERE conversation_id = ? AND id >= ?").run(id, fromMessageId);
          this.sql.get("UPDATE conversations SET updated_at = ? WHERE id = ?").run(Date.now(), id);
          return r.changes;
        })(),
      "message delete",
    );
  }

  /** Replaces one message's text (an answer the model continued); `meta` fields are merged in. */
  editMessage(userId: string, id: string, messageId: number, content: string, meta: Record<string, unknown> = {}): Message {
    this.require(userId, id);
    return guardDb(
      () =>
        this.db.transaction(() => {
          const old = this.requireMessage(id, messageId);
          const merged = { ...(old.meta ?? {}), ...meta, editedAt: new Date().toISOString() };
          this.sql.get("UPDATE messages SET content = ?, meta = ? WHERE id = ?").run(content, JSON.stringify(merged), messageId);
          this.sql.get("UPDATE conversations SET updated_at = ? WHERE id = ?").run(Date.now(), id);
          return this.requireMessage(id, messageId);
        })(),
      "message write",
    );
  }

  private requireMessage(conversationId: string, messageId: number): Message {
    const row = this.sql.get("SELECT * FROM messages WHERE id = ? AND conversation_id = ?").get(messageId, conversationId) as MsgRow | undefined;
    if (!row) throw new SovereignError("NOT_FOUND", `No message ${messageId} in conversation ${conversationId}.`);
    return toMessage(row);
  }

  delete(userId: string, id: string): void {
    const r = guardDb(() => this.sql.get("DELETE FROM conversations WHERE id = ? AND user_id = ?").run(id, userId), "delete");
    if (r.changes === 0) throw new SovereignError("CONVERSATION_NOT_FOUND", `No conversation ${id}.`);
  }

  /** The oldest conversation (any user's) quiet since before `before` and changed since its last summary, skipping `skip` of them. */
  dueForSummary(before: number, skip = 0): { id: string; userId: string; title: string } | undefined {
    return this.sql
      .get(
        `SELECT id, user_id AS userId, title FROM conversations
         WHERE updated_at < ? AND (summarized_at IS NULL OR summarized_at < updated_at) ORDER BY updated_at LIMIT 1 OFFSET ?`,
      )
      .get(before, skip) as { id: string; userId: string; title: string } | undefined;
  }

  /** How many conversations dueForSummary would still hand out. */
  countDueForSummary(before: number): number {
    return (this.sql.get("SELECT COUNT(*) AS n FROM conversations WHERE updated_at < ? AND (summarized_at IS NULL OR summarized_at < updated_at)").get(before) as { n: number }).n;
  }

  /** The memory holding the conversation's current summary, if any. */
  summaryMemoryOf(id: string): number | null {
    return (this.sql.get("SELECT summary_memory_id AS m FROM conversations WHERE id = ?").get(id) as { m: number | null } | undefined)?.m ?? null;
  }

  /** Marks the conversation summarized at `at`; with `summaryMemoryId` (null: none) that memory becomes its summary. */
  markSummarized(id: string, at: number, summaryMemoryId?: number | null): void {
    if (summaryMemoryId === undefined) this.sql.get("UPDATE conversations SET summarized_at = ? WHERE id = ?").run(at, id);
    else this.sql.get("UPDATE conversations SET summarized_at = ?, summary_memory_id = ? WHERE id = ?").run(at, summaryMemoryId, id);
  }

  /** A whole conversation as JSON, or as Markdown for people. */
  export(userId: string, id: string, format: "json" | "markdown"): { conversation: Conversation; messages: Message[] } | string {
    const conversation = this.require(userId, id);
    const messages = this.messages(userId, id);
    if (format === "json") return { conversation, messages };
    const lines = [`# ${conversation.title}`, "", `_${conversation.createdAt} — ${conversation.updatedAt}_`, ""];
    for (const m of messages) lines.push(`**${m.role}** (${m.createdAt}):`, "", m.content, "");
    return lines.join("\n");
  }
}

function settingsJson(settings: ConversationSettings | undefined): string | null {
  return settings && Object.keys(settings).length > 0 ? JSON.stringify(settings) : null;
}

function cleanTitle(title: string | undefined): string | undefined {
  const t = title?.replace(/\s+/g, " ").trim().slice(0, 120);
  return t ? t : undefined;
}
