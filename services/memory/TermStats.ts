import type BetterSqlite3 from "better-sqlite3";
import type { TermFrequencies } from "./ftsQuery.js";

/** Frequencies only steer the query plan, so a minute's staleness costs nothing. */
const TTL_MS = 60_000;
const MAX_CACHED_TERMS = 10_000;

/**
 * Document frequencies of memory words, read from an fts5vocab view of the
 * FTS index and cached: counting a word in 60% of 100k memories walks its
 * whole posting list (about 1.6 ms).
 */
export class TermStats implements TermFrequencies {
  private readonly docStmt: BetterSqlite3.Statement;
  private readonly totalStmt: BetterSqlite3.Statement;
  private readonly cache = new Map<string, { n: number; at: number }>();
  private totalCache: { n: number; at: number } | undefined;

  constructor(
    db: BetterSqlite3.Database,
    private readonly now: () => number = Date.now,
  ) {
    // A temp view: it is per connection and never part of the migrated schema.
    db.exec("CREATE VIRTUAL TABLE IF NOT EXISTS temp.memories_fts_vocab USING fts5vocab(main, memories_fts, row)");
    this.docStmt = db.prepare("SELECT doc FROM temp.memories_fts_vocab WHERE term = ?").pluck();
    this.totalStmt = db.prepare("SELECT COUNT(*) FROM memories").pluck();
  }

  total(): number {
    const t = this.now();
    if (!this.totalCache || t - this.totalCache.at > TTL_MS) this.totalCache = { n: this.totalStmt.get() as number, at: t };
    return this.totalCache.n;
  }

  docFreq(term: string): number {
    const t = this.now();
    const hit = this.cache.get(term);
    if (hit && t - hit.at <= TTL_MS) return hit.n;
    if (this.cache.size >= MAX_CACHED_TERMS) this.cache.clear();
    const n = (this.docStmt.get(term) as number | undefined) ?? 0;
    this.cache.set(term, { n, at: t });
    return n;
  }
}
