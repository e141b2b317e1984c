import type BetterSqlite3 from "better-sqlite3";

/**
 * Prepared statements by SQL text: each text is compiled once and the same
 * statement is handed back after (better-sqlite3 keeps no cache, and
 * compiling is most of a small query's cost). For SQL built from a few
 * optional clauses too: the variants are few. Not for a statement that is
 * iterated while another call may run it (iterate() holds it busy).
 */
export class Statements {
  private readonly cache = new Map<string, BetterSqlite3.Statement>();

  constructor(private readonly db: BetterSqlite3.Database, private readonly max = 256) {}

  get(sql: string): BetterSqlite3.Statement {
    let stmt = this.cache.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      // A bound on the variants of built SQL: the oldest goes first.
      if (this.cache.size >= this.max) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(sql, stmt);
    }
    return stmt;
  }
}
