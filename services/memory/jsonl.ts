import type BetterSqlite3 from "better-sqlite3";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { jsonTextDepth, MAX_JSON_DEPTH } from "../../core/json/jsonDepth.js";
import { guardDb } from "../db/sqliteErrors.js";
import { toMessage, type Role } from "./ConversationStore.js";
import { normalizeTags, tagsProblem, toMemory, type Memory } from "./MemoryStore.js";
import { MEMORY_SCHEMA_VERSION } from "./migrations.js";

/**
 * JSON-lines export and import of what a user taught the node: memories (no
 * vectors; they are re-embedded), conversations with their messages, and
 * feedback. The first line is a header naming the format.
 */
export const JSONL_FORMAT = "sovereign-memory";

/** A memory as exported: everything but its local row id. */
type MemoryLine = { type: "memory" } & Omit<Memory, "id">;
interface ConversationLine {
  type: "conversation";
  id: string;
  userId: string;
  title: string;
  createdAt: string;
  updatedAt: string;
  messages: Array<{ role: Role; content: string; createdAt: string; meta: Record<string, unknown> | null }>;
}
interface FeedbackLine {
  type: "feedback";
  userId: string;
  question: string;
  answer: string;
  rating: "up" | "down";
  correction: string | null;
  createdAt: string;
}
type Line = MemoryLine | ConversationLine | FeedbackLine;

/** Yields the export line by line (a user's data, or everyone's when userId is undefined). */
export function* exportJsonl(db: BetterSqlite3.Database, userId?: string): Generator<string> {
  yield JSON.stringify({ type: "header", format: JSONL_FORMAT, version: 1, memorySchema: MEMORY_SCHEMA_VERSION, exportedAt: new Date().toISOString() });
  const byUser = userId === undefined ? "" : " WHERE user_id = ?";
  const args = userId === undefined ? [] : [userId];
  for (const r of db.prepare(`SELECT * FROM memories${byUser} ORDER BY id`).iterate(...args) as Iterable<Parameters<typeof toMemory>[0]>) {
    const m = toMemory(r);
    const line: MemoryLine = { type: "memory", userId: m.userId, text: m.text, source: m.source, kind: m.kind, tags: m.tags, importance: m.importance, createdAt: m.createdAt, documentId: m.documentId, chunkIndex: m.chunkIndex };
    yield JSON.stringify(line);
  }
  const msgs = db.prepare("SELECT * FROM messages WHERE conversation_id = ? ORDER BY id");
  const convs = db.prepare(`SELECT * FROM conversations${byUser} ORDER BY created_at`).all(...args) as Array<{ id: string; user_id: string; title: string; created_at: number; updated_at: number }>;
  for (const c of convs) {
    const messages = (msgs.all(c.id) as Parameters<typeof toMessage>[0][]).map(toMessage).map((m) => ({ role: m.role, content: m.content, createdAt: m.createdAt, meta: m.meta }));
    const line: ConversationLine = { type: "conversation", id: c.id, userId: c.user_id, title: c.title, createdAt: new Date(c.created_at).toISOString(), updatedAt: new Date(c.updated_at).toISOString(), messages };
    yield JSON.stringify(line);
  }
  for (const f of db.prepare(`SELECT * FROM feedback${byUser} ORDER BY id`).iterate(...args) as Iterable<{ user_id: string; question: string; answer: string; rating: "up" | "down"; correction: string | null; created_at: number }>) {
    const line: FeedbackLine = { type: "feedback", userId: f.user_id, question: f.question, answer: f.answer, rating: f.rating, correction: f.correction, createdAt: new Date(f.created_at).toISOString() };
    yield JSON.stringify(line);
  }
}

export interface ImportResult {
  memories: number;
  conversations: number;
  conversationsSkipped: number;
  feedback: number;
}

/**
 * Imports an export in one transaction: every line is validated first, so a
 * bad file imports nothing. `asUser` puts everything under one user (the API
 * caller); otherwise lines keep their own user ids (the CLI). Conversations
 * already present (same id) are skipped.
 */
export function importJsonl(db: BetterSqlite3.Database, text: string, options: { asUser?: string } = {}): ImportResult {
  const lines = text.split("\n").map((l, i) => ({ l: l.trim(), n: i + 1 })).filter((x) => x.l.length > 0);
  const parsed: Line[] = [];
  for (const { l, n } of lines) {
    // Checked on the text, before parsing: stored JSON (message meta) is never walked thousands of levels deep.
    if (jsonTextDepth(l, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw bad(n, `nested more than ${MAX_JSON_DEPTH} levels deep`);
    let value: unknown;
    try {
      value = JSON.parse(l);
    } catch {
      throw bad(n, "not JSON");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad(n, "not a JSON object");
    const v = value as Record<string, unknown>;
    if (v.type === "header") {
      if (v.format !== JSONL_FORMAT) throw bad(n, `format is ${String(v.format)}, expected ${JSONL_FORMAT}`);
      continue;
    }
    parsed.push(validate(v, n));
  }
  const user = (u: string): string => options.asUser ?? u;
  return guardDb(
    () =>
      db.transaction(() => {
        const result: ImportResult = { memories: 0, conversations: 0, conversationsSkipped: 0, feedback: 0 };
        const insMem = db.prepare(
          "INSERT INTO memories (user_id, text, source, kind, tags, importance, created_at, document_id, chunk_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        );
        const insTag = db.prepare("INSERT OR IGNORE INTO memory_tags (tag, memory_id) VALUES (?, ?)");
        const insConv = db.prepare("INSERT OR IGNORE INTO conversations (id, user_id, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)");
        const insMsg = db.prepare("INSERT INTO messages (conversation_id, role, content, created_at, meta) VALUES (?, ?, ?, ?, ?)");
        const insFb = db.prepare("INSERT INTO feedback (user_id, question, answer, rating, correction, created_at) VALUES (?, ?, ?, ?, ?, ?)");
        for (const p of parsed) {
          if (p.type === "memory") {
            const tags = normalizeTags(p.tags);
            const id = Number(insMem.run(user(p.userId), p.text, p.source, p.kind, JSON.stringify(tags), p.importance, Date.parse(p.createdAt), p.documentId, p.chunkIndex).lastInsertRowid);
            for (const t of tags) insTag.run(t, id);
            result.memories++;
          } else if (p.type === "conversation") {
            if (insConv.run(p.id, user(p.userId), p.title, Date.parse(p.createdAt), Date.parse(p.updatedAt)).changes === 0) {
              result.conversationsSkipped++;
              continue;
            }
            for (const m of p.messages) insMsg.run(p.id, m.role, m.content, Date.parse(m.createdAt), m.meta ? JSON.stringify(m.meta) : null);
            result.conversations++;
          } else {
            insFb.run(user(p.userId), p.question, p.answer, p.rating, p.correction, Date.parse(p.createdAt));
            result.feedback++;
          }
        }
        return result;
      })(),
    "import",
  );
}

function bad(line: number, why: string): SovereignError {
  return new SovereignError("MEMORY_IMPORT_INVALID", `Line ${line} of the import is invalid: ${why}. Nothing was imported.`, { details: { line } });
}

const isStr = (x: unknown): x is string => typeof x === "string";
const isTime = (x: unknown): x is string => isStr(x) && !Number.isNaN(Date.parse(x));

function validate(v: Record<string, unknown>, n: number): Line {
  if (v.type === "memory") {
    if (!isStr(v.userId) || !isStr(v.text) || v.text.trim() === "" || !isStr(v.source) || !isStr(v.kind) || !Array.isArray(v.tags) || !v.tags.every(isStr)) throw bad(n, "memory fields missing");
    const tagIssue = tagsProblem(v.tags);
    if (tagIssue) throw bad(n, tagIssue);
    if (typeof v.importance !== "number" || v.importance < 0 || v.importance > 1 || !isTime(v.createdAt)) throw bad(n, "memory importance or time invalid");
    return {
      type: "memory", userId: v.userId, text: v.text, source: v.source, kind: v.kind, tags: v.tags, importance: v.importance, createdAt: v.createdAt,
      documentId: isStr(v.documentId) ? v.documentId : null, chunkIndex: typeof v.chunkIndex === "number" ? v.chunkIndex : null,
    };
  }
  if (v.type === "conversation") {
    if (!isStr(v.id) || !isStr(v.userId) || !isStr(v.title) || !isTime(v.createdAt) || !isTime(v.updatedAt) || !Array.isArray(v.messages)) throw bad(n, "conversation fields missing");
    const roles = new Set<unknown>(["system", "user", "assistant", "tool"]);
    const messages: ConversationLine["messages"] = [];
    for (const m of v.messages as Array<Record<string, unknown>>) {
      if (typeof m !== "object" || m === null || !isStr(m.role) || !roles.has(m.role) || !isStr(m.content) || !isTime(m.createdAt)) throw bad(n, "message fields invalid");
      if (m.meta !== undefined && m.meta !== null && (typeof m.meta !== "object" || Array.isArray(m.meta))) throw bad(n, "message meta must be an object or null");
      messages.push({ role: m.role as Role, content: m.content, createdAt: m.createdAt, meta: (m.meta ?? null) as Record<string, unknown> | null });
    }
    return { type: "conversation", id: v.id, userId: v.userId, title: v.title, createdAt: v.createdAt, updatedAt: v.updatedAt, messages };
  }
  if (v.type === "feedback") {
    if (!isStr(v.userId) || !isStr(v.question) || !isStr(v.answer) || (v.rating !== "up" && v.rating !== "down") || !isTime(v.createdAt)) throw bad(n, "feedback fields invalid");
    return { type: "feedback", userId: v.userId, question: v.question, answer: v.answer, rating: v.rating, correction: isStr(v.correction) ? v.correction : null, createdAt: v.createdAt };
  }
  throw bad(n, `unknown type ${JSON.stringify(v.type)}`);
}
