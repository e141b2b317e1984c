import type BetterSqlite3 from "better-sqlite3";
import { Statements } from "../db/Statements.js";

export interface Episode {
  id: number;
  userId: string | null;
  kind: string;
  at: string;
  summary: string;
  data: unknown;
}

/** Episodic memory: what the node did and when (job runs, answers and their feedback, imports). */
export class EpisodeLog {
  private readonly sql: Statements;

  constructor(private readonly db: BetterSqlite3.Database) {
    this.sql = new Statements(db);
  }

  record(kind: string, summary: string, data?: unknown, userId: string | null = null, at = Date.now()): number {
    try {
      return Number(
        this.sql
          .get("INSERT INTO episodes (user_id, kind, at, summary, data) VALUES (?, ?, ?, ?, ?)")
          .run(userId, kind, at, summary.slice(0, 2000), data === undefined ? null : JSON.stringify(data).slice(0, 16_000)).lastInsertRowid,
      );
    } catch {
      // The episode log is a record of events, never a reason for the event itself to fail (e.g. on a full disk).
      return 0;
    }
  }

  list(options: { userId?: string; kind?: string; since?: number; limit?: number } = {}): Episode[] {
    const where: string[] = ["1 = 1"];
    const params: unknown[] = [];
    if (options.userId !== undefined) {
      where.push("(user_id = ? OR user_id IS NULL)");
      params.push(options.userId);
    }
    if (options.kind) {
      where.push("kind = ?");
      params.push(options.kind);
    }
    if (options.since !== undefined) {
      where.push("at >= ?");
      params.push(options.since);
    }
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 1000);
    const rows = this.sql.get(`SELECT * FROM episodes WHERE ${where.join(" AND ")} ORDER BY id DESC LIMIT ?`).all(...params, limit) as Array<{
      id: number;
      user_id: string | null;
      kind: string;
      at: number;
      summary: string;
      data: string | null;
    }>;
    return rows.map((r) => ({
      id: r.id,
      userId: r.user_id,
      kind: r.kind,
      at: new Date(r.at).toISOString(),
      summary: r.summary,
      data: r.data === null ? null : (JSON.parse(r.data) as unknown),
    }));
  }
}
