import type BetterSqlite3 from "better-sqlite3";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface WindowUsage {
  window: "hour" | "day";
  used: number;
  /** null: no limit. */
  limit: number | null;
  /** When this window's count starts again from zero (ISO time). */
  resetsAt: string;
}

/**
 * Token use per subject ("user:<id>" or "key:<id>") in clock-hour buckets. The
 * hour window is the current clock hour; the day window is the current UTC day,
 * so a 429 can say exactly when the quota resets.
 */
export class QuotaLedger {
  constructor(private readonly db: BetterSqlite3.Database, private readonly now: () => number = Date.now) {}

  add(subject: string, tokens: number): void {
    if (!(tokens > 0)) return;
    const hour = Math.floor(this.now() / HOUR_MS);
    this.db
      .prepare("INSERT INTO auth_token_usage (subject, hour, tokens) VALUES (?, ?, ?) ON CONFLICT(subject, hour) DO UPDATE SET tokens = tokens + excluded.tokens")
      .run(subject, hour, Math.round(tokens));
  }

  usage(subject: string, limits: { perHour: number | null; perDay: number | null }): [WindowUsage, WindowUsage] {
    const t = this.now();
    const hour = Math.floor(t / HOUR_MS);
    const dayStart = Math.floor(t / DAY_MS) * DAY_MS;
    const hourRow = this.db.prepare("SELECT tokens FROM auth_token_usage WHERE subject = ? AND hour = ?").get(subject, hour) as { tokens: number } | undefined;
    const dayRow = this.db
      .prepare("SELECT COALESCE(SUM(tokens), 0) AS tokens FROM auth_token_usage WHERE subject = ? AND hour >= ?")
      .get(subject, dayStart / HOUR_MS) as { tokens: number };
    return [
      { window: "hour", used: hourRow?.tokens ?? 0, limit: limits.perHour, resetsAt: new Date((hour + 1) * HOUR_MS).toISOString() },
      { window: "day", used: dayRow.tokens, limit: limits.perDay, resetsAt: new Date(dayStart + DAY_MS).toISOString() },
    ];
  }

  /** Drops buckets older than two days. */
  prune(): void {
    this.db.prepare("DELETE FROM auth_token_usage WHERE hour < ?").run(Math.floor(this.now() / HOUR_MS) - 48);
  }
}
