import type BetterSqlite3 from "better-sqlite3";
import { Statements } from "../db/Statements.js";
import { guardDb } from "../db/sqliteErrors.js";
import { planFtsQuery } from "./ftsQuery.js";
import { TermStats } from "./TermStats.js";

export interface MemoryInput {
  userId: string;
  text: string;
  source: string;
  kind?: string;
  tags?: readonly string[];
  /** 0..1; how much this memory should win ties. Defaults to 0.5. */
  importance?: number;
  /** Epoch ms; defaults to now. */
  createdAt?: number;
  documentId?: string | null;
  chunkIndex?: number | null;
}

export interface Memory {
  id: number;
  userId: string;
  text: string;
  source: string;
  kind: string;
  tags: string[];
  importance: number;
  createdAt: string;
  documentId: string | null;
  chunkIndex: number | null;
}

export interface MemoryFilters {
  /** Every listed tag must be present. */
  tags?: readonly string[];
  source?: string;
  kind?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  until?: number;
}

interface Row {
  id: number;
  user_id: string;
  text: string;
  source: string;
  kind: string;
  tags: string;
  importance: number;
  created_at: number;
  document_id: string | null;
  chunk_index: number | null;
}

export function toMemory(r: Row): Memory {
  return {
    id: r.id,
    userId: r.user_id,
    text: r.text,
    source: r.source,
    kind: r.kind,
    tags: JSON.parse(r.tags) as string[],
    importance: r.importance,
    createdAt: new Date(r.created_at).toISOString(),
    documentId: r.document_id,
    chunkIndex: r.chunk_index,
  };
}

/** The caps on a memory's tags, the same for the API and for imports. */
export const tagLimits = { maxTags: 32, maxLength: 64 } as const;

/** Why a list of tags breaks the caps (a sentence), or null when it is acceptable. */
export function tagsProblem(tags: unknown): string | null {
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === "string")) return "tags must be a list of strings";
  if (tags.length > tagLimits.maxTags) return `${tags.length} tags; at most ${tagLimits.maxTags} are allowed`;
  if (tags.some((t) => t.length === 0 || t.length > tagLimits.maxLength)) return `each tag must be 1 to ${tagLimits.maxLength} characters`;
  return null;
}

export function normalizeTags(tags: readonly string[] | undefined): string[] {
  const out = new Set<string>();
  for (const t of tags ?? []) {
    const tag = t.trim().toLowerCase().slice(0, 64);
    if (tag) out.add(tag);
  }
  return [...out].slice(0, 32);
}

/** Long-term memories: rows, tags, FTS5 index (kept by triggers) and stored vectors. */
export class MemoryStore {
  private readonly insertStmt: BetterSqlite3.Statement;
  private readonly tagStmt: BetterSqlite3.Statement;
  private readonly getStmt: BetterSqlite3.Statement;
  private termStats: TermStats | undefined;
  /** Every other statement, prepared once per SQL text (the filter variants included). */
  private readonly sql: Statements;

  constructor(readonly db: BetterSqlite3.Database) {
    this.sql = new Statements(db);
    this.insertStmt = db.prepare(
      `INSERT INTO memories (user_id, text, source, kind, tags, importance, created_at, document_id, chunk_index)
       VALUES (@userId, @text, @source, @kind, @tags, @importance, @createdAt, @documentId, @chunkIndex)`,
    );
    this.tagStmt = db.prepare("INSERT OR IGNORE INTO memory_tags (tag, memory_id) VALUES (?, ?)");
    this.getStmt = db.prepare("SELECT * FROM memories WHERE id = ?");
  }

  /** Inserts in one transaction: all rows are searchable by words as soon as it commits. */
  insertMany(inputs: readonly MemoryInput[]): number[] {
    const now = Date.now();
    return guardDb(
      () =>
        this.db.transaction(() =>
          inputs.map((m) => {
            const tags = normalizeTags(m.tags);
            const id = Number(
              this.insertStmt.run({
                userId: m.userId,
                text: m.text,
                source: m.source,
                kind: m.kind ?? "note",
                tags: JSON.stringify(tags),
                importance: Math.min(1, Math.max(0, m.importance ?? 0.5)),
                createdAt: m.createdAt ?? now,
                documentId: m.documentId ?? null,
                chunkIndex: m.chunkIndex ?? null,
              }).lastInsertRowid,
            );
            for (const t of tags) this.tagStmt.run(t, id);
            return id;
          }),
        )(),
      "memory write",
    );
  }

  get(userId: string, id: number): Memory | undefined {
    const row = this.getStmt.get(id) as Row | undefined;
    return row && row.user_id === userId ? toMemory(row) : undefined;
  }

  /** Rows by id (any user), in the order asked. */
  getMany(ids: readonly number[]): Map<number, Memory> {
    const out = new Map<number, Memory>();
    if (ids.length === 0) return out;
    // One statement for any number of ids: the list travels as JSON.
    const rows = this.sql.get("SELECT * FROM memories WHERE id IN (SELECT value FROM json_each(?))").all(JSON.stringify(ids)) as Row[];
    for (const r of rows) out.set(r.id, toMemory(r));
    return out;
  }

  list(userId: string, options: MemoryFilters & { limit?: number; beforeId?: number } = {}): Memory[] {
    const { where, params } = this.filterSql(userId, options);
    if (options.beforeId !== undefined) {
      where.push("m.id < ?");
      params.push(options.beforeId);
    }
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
    const rows = this.sql.get(`SELECT m.* FROM memories m WHERE ${where.join(" AND ")} ORDER BY m.id DESC LIMIT ?`).all(...params, limit) as Row[];
    return rows.map(toMemory);
  }

  update(userId: string, id: number, patch: { tags?: readonly string[]; importance?: number; text?: string }): boolean {
    return guardDb(
      () =>
        this.db.transaction(() => {
          const current = this.get(userId, id);
          if (!current) return false;
          if (patch.text !== undefined) {
            this.sql.get("UPDATE memories SET text = ? WHERE id = ?").run(patch.text, id);
            this.sql.get("DELETE FROM memory_vectors WHERE memory_id = ?").run(id);
          }
          if (patch.importance !== undefined) this.sql.get("UPDATE memories SET importance = ? WHERE id = ?").run(Math.min(1, Math.max(0, patch.importance)), id);
          if (patch.tags !== undefined) {
            const tags = normalizeTags(patch.tags);
            this.sql.get("UPDATE memories SET tags = ? WHERE id = ?").run(JSON.stringify(tags), id);
            this.sql.get("DELETE FROM memory_tags WHERE memory_id = ?").run(id);
            for (const t of tags) this.tagStmt.run(t, id);
          }
          return true;
        })(),
      "memory update",
    );
  }

  delete(userId: string, ids: readonly number[]): number[] {
    return guardDb(
      () =>
        this.db.transaction(() => {
          const deleted: number[] = [];
          const stmt = this.sql.get("DELETE FROM memories WHERE id = ? AND user_id = ?");
          for (const id of ids) if (stmt.run(id, userId).changes === 1) deleted.push(id);
          return deleted;
        })(),
      "memory delete",
    );
  }

  /** The MATCH expressions for a free-text query, planned by how common its words are. */
  ftsPlan(text: string): string[] {
    this.termStats ??= new TermStats(this.db);
    return planFtsQuery(text, this.termStats);
  }

  /**
   * FTS5 BM25 ranking, best first. `plan` comes from ftsPlan (or is [toFtsQuery(...)]);
   * a later expression runs only when the ones before it matched nothing
   * (a misspelt rare word): filling up with common-word matches would rank
   * tens of thousands of rows for results that say little.
   */
  ftsSearch(userId: string, plan: readonly string[], filters: MemoryFilters, limit: number): Array<{ id: number; score: number }> {
    for (const match of plan) {
      const rows = this.ftsRanked(userId, match, filters, limit);
      if (rows.length > 0) return rows.map((r) => ({ id: r.id, score: -r.rank }));
    }
    return [];
  }

  private ftsRanked(userId: string, match: string, filters: MemoryFilters, limit: number): Array<{ id: number; rank: number }> {
    const { where, params } = this.filterSql(userId, filters);
    const full = (): Array<{ id: number; rank: number }> =>
      this.sql
        .get(
          `SELECT m.id AS id, memories_fts.rank AS rank FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid
           WHERE memories_fts MATCH ? AND ${where.join(" AND ")} ORDER BY rank LIMIT ?`,
        )
        .all(match, ...params, limit) as Array<{ id: number; rank: number }>;
    // Tags, source, kind or time usually keep a few percent: rank once, with the filter in the join.
    if (hasFilters(filters)) return full();
    // Only the user filters: let FTS5 rank inside the virtual table (ORDER BY rank LIMIT is
    // optimized there) and filter a generous head; rank everything only if that leaves too few.
    const head = Math.max(limit * 8, 400);
    const fast = this.sql
      .get(
        `SELECT m.id AS id, f.rank AS rank FROM (SELECT rowid, rank FROM memories_fts WHERE memories_fts MATCH ? ORDER BY rank LIMIT ?) f
         JOIN memories m ON m.id = f.rowid WHERE ${where.join(" AND ")} ORDER BY f.rank LIMIT ?`,
      )
      .all(match, head, ...params, limit) as Array<{ id: number; rank: number }>;
    if (fast.length >= limit) return fast;
    const total = (this.sql.get("SELECT COUNT(*) AS n FROM (SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? LIMIT ?)").get(match, head + 1) as { n: number }).n;
    return total <= head ? fast : full();
  }

  /** Ids that pass the filters (for the vector side); undefined when only the user filters. */
  filterIds(userId: string, filters: MemoryFilters): Set<number> | undefined {
    if (!hasFilters(filters)) return undefined;
    const { where, params } = this.filterSql(userId, filters);
    const rows = this.sql.get(`SELECT m.id AS id FROM memories m WHERE ${where.join(" AND ")}`).raw().all(...params) as Array<[number]>;
    return new Set(rows.map((r) => r[0]));
  }

  storeVector(id: number, model: string, vector: Float32Array): boolean {
    return guardDb(
      () =>
        this.sql
          .get(
            `INSERT INTO memory_vectors (memory_id, model, dims, vector) SELECT id, ?, ?, ? FROM memories WHERE id = ?
             ON CONFLICT (memory_id) DO UPDATE SET model = excluded.model, dims = excluded.dims, vector = excluded.vector`,
          )
          .run(model, vector.length, Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength), id).changes === 1,
      "embedding write",
    );
  }

  /** Memories with no vector from this model yet, oldest first. */
  pendingEmbeddings(model: string, limit: number): Array<{ id: number; text: string }> {
    return this.sql
      .get(
        `SELECT m.id AS id, m.text AS text FROM memories m LEFT JOIN memory_vectors v ON v.memory_id = m.id
         WHERE v.memory_id IS NULL OR v.model != ? ORDER BY m.id LIMIT ?`,
      )
      .all(model, limit) as Array<{ id: number; text: string }>;
  }

  countPending(model: string | null): number {
    if (model === null) return (this.sql.get("SELECT COUNT(*) AS n FROM memories").get() as { n: number }).n;
    return (
      this.sql
        .get("SELECT COUNT(*) AS n FROM memories m LEFT JOIN memory_vectors v ON v.memory_id = m.id WHERE v.memory_id IS NULL OR v.model != ?")
        .get(model) as { n: number }
    ).n;
  }

  /** Every stored vector of one model, for loading the in-memory index. */
  *vectors(model: string): Generator<{ id: number; userId: string; vector: Float32Array }> {
    // Prepared per load, not cached: iterate() holds the statement while this generator is read.
    const stmt = this.db.prepare(
      "SELECT v.memory_id AS id, m.user_id AS userId, v.vector AS vector FROM memory_vectors v JOIN memories m ON m.id = v.memory_id WHERE v.model = ?",
    );
    for (const r of stmt.iterate(model) as Iterable<{ id: number; userId: string; vector: Buffer }>) {
      const copy = new Float32Array(r.vector.byteLength / 4);
      new Uint8Array(copy.buffer).set(r.vector);
      yield { id: r.id, userId: r.userId, vector: copy };
    }
  }

  /** Groups (per user) of memories whose text is the same after normalizing case and spaces: the ids, oldest first. */
  exactDuplicateGroups(limit = 1000): Array<{ userId: string; ids: number[] }> {
    const rows = this.sql
      .get(
        `SELECT user_id AS userId, group_concat(id) AS ids FROM memories
         GROUP BY user_id, lower(trim(replace(replace(replace(replace(replace(text, char(10), ' '), char(9), ' '), '  ', ' '), '  ', ' '), '  ', ' '))) HAVING COUNT(*) > 1 LIMIT ?`,
      )
      .all(limit) as Array<{ userId: string; ids: string }>;
    return rows.map((r) => ({ userId: r.userId, ids: r.ids.split(",").map(Number).sort((a, b) => a - b) }));
  }

  /** Memories after row `afterId` that have a vector of `model`, in id order (near-duplicate compaction walks them). */
  withVectorsAfter(afterId: number, model: string, limit: number): Array<{ id: number; userId: string; documentId: string | null }> {
    return this.sql
      .get("SELECT m.id AS id, m.user_id AS userId, m.document_id AS documentId FROM memories m JOIN memory_vectors v ON v.memory_id = m.id WHERE m.id > ? AND v.model = ? ORDER BY m.id LIMIT ?")
      .all(afterId, model, limit) as Array<{ id: number; userId: string; documentId: string | null }>;
  }

  /** The memory service's own small state (watermarks of resumable jobs), by key. */
  getState(key: string): string | undefined {
    return (this.sql.get("SELECT value FROM memory_kv WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  }

  setState(key: string, value: string): void {
    this.sql.get("INSERT INTO memory_kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(key, value);
  }

  count(userId?: string): number {
    const row = (userId === undefined
      ? this.sql.get("SELECT COUNT(*) AS n FROM memories").get()
      : this.sql.get("SELECT COUNT(*) AS n FROM memories WHERE user_id = ?").get(userId)) as { n: number };
    return row.n;
  }

  private filterSql(userId: string, f: MemoryFilters): { where: string[]; params: unknown[] } {
    const where = ["m.user_id = ?"];
    const params: unknown[] = [userId];
    if (f.source !== undefined) {
      where.push("m.source = ?");
      params.push(f.source);
    }
    if (f.kind !== undefined) {
      where.push("m.kind = ?");
      params.push(f.kind);
    }
    if (f.since !== undefined) {
      where.push("m.created_at >= ?");
      params.push(f.since);
    }
    if (f.until !== undefined) {
      where.push("m.created_at <= ?");
      params.push(f.until);
    }
    for (const tag of normalizeTags(f.tags)) {
      where.push("m.id IN (SELECT memory_id FROM memory_tags WHERE tag = ?)");
      params.push(tag);
    }
    return { where, params };
  }
}

export function hasFilters(f: MemoryFilters): boolean {
  return (f.tags?.length ?? 0) > 0 || f.source !== undefined || f.kind !== undefined || f.since !== undefined || f.until !== undefined;
}
