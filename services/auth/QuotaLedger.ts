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
  /** Tokens granted to requests still running, per subject: counted as used until the request settles. */
  private readonly reserved = new Map<string, Map<number, { tokens: number; at: number }>>();
  private nextReservation = 1;

  constructor(private readonly db: BetterSqlite3.Database, private readonly now: () => number = Date.now) {}

  /**
   * Holds `tokens` against each subject for a request in flight; the returned
   * function frees them (once). A reservation never settled (a bug) lapses
   * after an hour, so it cannot hold a quota forever.
   */
  reserve(subjects: readonly string[], tokens: number): () => void {
    if (!(tokens > 0) || subjects.length === 0) return () => undefined;
    const id = this.nextReservation++;
    const at = this.now();
    for (const s of subjects) {
      let m = this.reserved.get(s);
      if (!m) this.reserved.set(s, (m = new Map()));
      m.set(id, { tokens, at });
    }
    return () => {
      for (const s of subjects) {
        const m = this.reserved.get(s);
        m?.delete(id);
        if (m?.size === 0) this.reserved.delete(s);
      }
    };
  }

  /** Tokens reserved for a subject's requests in flight. */
  reservedFor(subject: string): number {
    const m = this.reserved.get(subject);
    if (!m) return 0;
    const t = this.now();
    let sum = 0;
    for (const [id, r] of m) {
      if (t - r.at > HOUR_MS) m.delete(id);
      else sum += r.tokens;
    }
    return sum;
  }

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
