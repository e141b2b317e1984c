import type BetterSqlite3 from "better-sqlite3";
import { Statements } from "../db/Statements.js";
import { guardDb } from "../db/sqliteErrors.js";

/**
 * Short-term memory: small key/value notes per user session that expire
 * (memory.shortTermTtlMinutes after their last write). Working memory, the
 * current prompt context, is the chat request itself and is not stored.
 */
export class ShortTermStore {
  private readonly sql: Statements;

  constructor(private readonly db: BetterSqlite3.Database, private readonly ttlMs: number) {
    this.sql = new Statements(db);
  }

  set(userId: string, sessionId: string, key: string, value: unknown, ttlMs = this.ttlMs): void {
    guardDb(() =>
      this.sql
        .get(
          `INSERT INTO short_term (session_id, user_id, key, value, expires_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (user_id, session_id, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
        )
        .run(sessionId, userId, key, JSON.stringify(value ?? null), Date.now() + ttlMs),
    );
  }

  get(userId: string, sessionId: string, now = Date.now()): Record<string, unknown> {
    const rows = this.sql
      .get("SELECT key, value FROM short_term WHERE user_id = ? AND session_id = ? AND expires_at > ? ORDER BY key")
      .all(userId, sessionId, now) as Array<{ key: string; value: string }>;
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as unknown]));
  }

  clear(userId: string, sessionId: string): number {
    return this.sql.get("DELETE FROM short_term WHERE user_id = ? AND session_id = ?").run(userId, sessionId).changes;
  }

  purgeExpired(now = Date.now()): number {
    return this.sql.get("DELETE FROM short_term WHERE expires_at <= ?").run(now).changes;
  }
}
