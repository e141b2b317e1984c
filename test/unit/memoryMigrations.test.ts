import { describe, expect, it } from "vitest";
import { Database } from "../../services/db/Database.js";
import { memoryMigrations } from "../../services/memory/migrations.js";

function tables(db: Database): string[] {
  return (db.sqlite.prepare("SELECT name FROM sqlite_master WHERE type IN ('table') ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
}
function columns(db: Database, table: string): string[] {
  return (db.sqlite.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((r) => r.name);
}
/** A database migrated to exactly `version`. */
function at(version: number): Database {
  const db = new Database(":memory:");
  db.migrate("memory", memoryMigrations.slice(0, version));
  expect(db.version("memory")).toBe(version);
  return db;
}

describe("memory migrations, one by one", () => {
  it("are numbered 1..n", () => {
    expect(memoryMigrations.map((m) => m.version)).toEqual(memoryMigrations.map((_, i) => i + 1));
  });

  it("v1: conversations and messages, deleted together", () => {
    const db = at(1);
    expect(tables(db)).toEqual(expect.arrayContaining(["conversations", "messages"]));
    db.sqlite.prepare("INSERT INTO conversations VALUES ('c', 'u', 't', 1, 1)").run();
    db.sqlite.prepare("INSERT INTO messages (conversation_id, role, content, created_at) VALUES ('c', 'user', 'hi', 1)").run();
    expect(() => db.sqlite.prepare("INSERT INTO messages (conversation_id, role, content, created_at) VALUES ('c', 'robot', 'x', 1)").run()).toThrow(/CHECK/);
    db.sqlite.prepare("DELETE FROM conversations WHERE id = 'c'").run();
    expect(db.sqlite.prepare("SELECT COUNT(*) AS n FROM messages").get()).toEqual({ n: 0 });
  });

  it("v2: memories with FTS kept in step by triggers, tags and vectors cascade", () => {
    const db = at(2);
    expect(tables(db)).toEqual(expect.arrayContaining(["memories", "memory_tags", "memory_vectors", "memories_fts"]));
    const id = Number(db.sqlite.prepare("INSERT INTO memories (user_id, text, source, created_at) VALUES ('u', 'red kettle', 's', 1)").run().lastInsertRowid);
    db.sqlite.prepare("INSERT INTO memory_tags VALUES ('kitchen', ?)").run(id);
    db.sqlite.prepare("INSERT INTO memory_vectors VALUES (?, 'm', 2, x'0000000000000000')").run(id);
    const match = (q: string) => db.sqlite.prepare("SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?").all(q);
    expect(match("kettle")).toEqual([{ rowid: id }]);
    db.sqlite.prepare("UPDATE memories SET text = 'blue teapot' WHERE id = ?").run(id);
    expect(match("kettle")).toEqual([]);
    expect(match("teapot")).toEqual([{ rowid: id }]);
    db.sqlite.prepare("DELETE FROM memories WHERE id = ?").run(id);
    expect(match("teapot")).toEqual([]);
    expect(db.sqlite.prepare("SELECT (SELECT COUNT(*) FROM memory_tags) + (SELECT COUNT(*) FROM memory_vectors) AS n").get()).toEqual({ n: 0 });
    expect(() => db.sqlite.prepare("INSERT INTO memories (user_id, text, source, created_at, importance) VALUES ('u', 'x', 's', 1, 2)").run()).toThrow(/CHECK/);
  });

  it("v3: short-term, episodes and feedback", () => {
    const db = at(3);
    expect(tables(db)).toEqual(expect.arrayContaining(["short_term", "episodes", "feedback"]));
    expect(() => db.sqlite.prepare("INSERT INTO feedback (user_id, question, answer, rating, created_at) VALUES ('u', 'q', 'a', 'meh', 1)").run()).toThrow(/CHECK/);
  });

  it("v4: summarization progress on conversations keeps existing rows", () => {
    const db = at(3);
    db.sqlite.prepare("INSERT INTO conversations VALUES ('c', 'u', 't', 1, 1)").run();
    db.migrate("memory", memoryMigrations.slice(0, 4));
    expect(db.version("memory")).toBe(4);
    expect(columns(db, "conversations")).toEqual(expect.arrayContaining(["summarized_at", "summary_memory_id"]));
    expect(tables(db)).toContain("memory_kv");
    expect(db.sqlite.prepare("SELECT id, summarized_at FROM conversations").get()).toEqual({ id: "c", summarized_at: null });
  });

  it("v5: origin and federation item key on memories keep existing rows; one row per owner and item", () => {
    const db = at(4);
    db.sqlite.prepare("INSERT INTO memories (user_id, text, source, created_at) VALUES ('u', 'kept', 's', 1)").run();
    db.migrate("memory", memoryMigrations.slice(0, 5));
    expect(db.version("memory")).toBe(5);
    expect(columns(db, "memories")).toEqual(expect.arrayContaining(["origin", "fed_key"]));
    expect(db.sqlite.prepare("SELECT text, origin, fed_key FROM memories").get()).toEqual({ text: "kept", origin: null, fed_key: null });
    const insert = db.sqlite.prepare("INSERT INTO memories (user_id, text, source, created_at, origin, fed_key) VALUES (?, 'x', 's', 1, 'peer', ?)");
    insert.run("u", "memory:k");
    insert.run("quarantine:u", "memory:k");
    expect(() => insert.run("u", "memory:k")).toThrow(/UNIQUE/);
    // Our own memories carry no key and are never constrained by it.
    db.sqlite.prepare("INSERT INTO memories (user_id, text, source, created_at) VALUES ('u', 'own', 's', 1)").run();
    expect(db.sqlite.prepare("SELECT COUNT(*) AS n FROM memories WHERE fed_key IS NULL").get()).toEqual({ n: 2 });
  });

  it("v6: chat settings on conversations keep existing rows (none until the panel saves some)", () => {
    const db = at(5);
    db.sqlite.prepare("INSERT INTO conversations (id, user_id, title, created_at, updated_at) VALUES ('c', 'u', 't', 1, 1)").run();
    db.migrate("memory", memoryMigrations.slice(0, 6));
    expect(db.version("memory")).toBe(6);
    expect(columns(db, "conversations")).toContain("settings");
    expect(db.sqlite.prepare("SELECT id, settings FROM conversations").get()).toEqual({ id: "c", settings: null });
  });

  it("refuses a database newer than the code", () => {
    const db = at(memoryMigrations.length);
    db.sqlite.prepare("INSERT INTO schema_migrations VALUES ('memory', 99, 'future', 'x')").run();
    expect(() => db.migrate("memory", memoryMigrations)).toThrow(expect.objectContaining({ code: "DB_SCHEMA_TOO_NEW" }));
  });

  it("opens with WAL, synchronous=FULL, a busy timeout and a bounded WAL", () => {
    const db = new Database(":memory:");
    expect(db.sqlite.pragma("synchronous", { simple: true })).toBe(2);
    expect(db.sqlite.pragma("busy_timeout", { simple: true })).toBe(5000);
    expect(db.sqlite.pragma("journal_size_limit", { simple: true })).toBe(64 * 1024 * 1024);
  });
});
