import type BetterSqlite3 from "better-sqlite3";

export interface ThrottlePolicy {
  /** Failures before the first lockout. */
  maxFailures: number;
  baseLockMs: number;
  maxLockMs: number;
}

/**
 * Failed-login counting with lockout and exponential backoff, kept in SQLite so
 * a restart does not reset it. Counted per user name (whether or not the user
 * exists, so the answer never tells them apart) and per client address.
 */
export class LoginThrottle {
  /** Attempts reserved and not yet settled, per key (in memory: a restart ends them anyway). */
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly db: BetterSqlite3.Database, private readonly now: () => number = Date.now) {}

  /**
   * Reserves one attempt on every key before the password is checked, or says
   * how long to wait. An attempt may start while no key is locked and fewer
   * attempts are in flight on each than failures are left before its next lock
   * (at least one), so attempts sent at once are never checked more often than
   * attempts sent one after another. Release the reservation after recording
   * the outcome (fail or clear).
   */
  reserve(keys: ReadonlyArray<{ key: string; policy: ThrottlePolicy }>): { waitMs: number } | { release: () => void } {
    const t = this.now();
    for (const { key, policy } of keys) {
      const r = this.row(key);
      if (r && r.locked_until > t) return { waitMs: r.locked_until - t };
      const failures = r && t - r.last_failure_at < policy.maxLockMs ? r.failures : 0;
      const allowed = Math.max(1, policy.maxFailures - failures);
      // The attempts in flight decide whether this one would come after the lock: try again once they are settled.
      if ((this.inFlight.get(key) ?? 0) >= allowed) return { waitMs: 1000 };
    }
    for (const { key } of keys) this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        for (const { key } of keys) {
          const n = (this.inFlight.get(key) ?? 1) - 1;
          if (n > 0) this.inFlight.set(key, n);
          else this.inFlight.delete(key);
        }
      },
    };
  }

  private row(key: string): { failures: number; locked_until: number; last_failure_at: number } | undefined {
    return this.db.prepare("SELECT failures, locked_until, last_failure_at FROM auth_login_throttle WHERE key = ?").get(key) as
      | { failures: number; locked_until: number; last_failure_at: number }
      | undefined;
  }

  /** Milliseconds until the first of these keys unlocks; 0 when none is locked. */
  lockedFor(keys: readonly string[]): number {
    const t = this.now();
    let wait = 0;
    for (const key of keys) {
      const r = this.db.prepare("SELECT locked_until FROM auth_login_throttle WHERE key = ?").get(key) as { locked_until: number } | undefined;
      if (r && r.locked_until > t) wait = Math.max(wait, r.locked_until - t);
    }
    return wait;
  }

  /**
   * Counts a failure. From `maxFailures` on, each failure locks the key for
   * base·2^(failures−max), capped. Counts older than the longest lock are forgotten.
   */
  fail(key: string, policy: ThrottlePolicy): number {
    const t = this.now();
    const r = this.db.prepare("SELECT failures, last_failure_at FROM auth_login_throttle WHERE key = ?").get(key) as
      | { failures: number; last_failure_at: number }
      | undefined;
    const failures = r && t - r.last_failure_at < policy.maxLockMs ? r.failures + 1 : 1;
    const over = failures - policy.maxFailures;
    const lockMs = over >= 0 ? Math.min(policy.baseLockMs * 2 ** Math.min(over, 30), policy.maxLockMs) : 0;
    this.db
      .prepare(
        `INSERT INTO auth_login_throttle (key, failures, locked_until, last_failure_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until, last_failure_at = excluded.last_failure_at`,
      )
      .run(key, failures, lockMs > 0 ? t + lockMs : 0, t);
    return lockMs;
  }

  clear(key: string): void {
    this.db.prepare("DELETE FROM auth_login_throttle WHERE key = ?").run(key);
  }

  /** Forgets every key that starts with `prefix` (all setup-code lockouts, when a new code is made). */
  clearPrefix(prefix: string): void {
    this.db.prepare("DELETE FROM auth_login_throttle WHERE substr(key, 1, ?) = ?").run(prefix.length, prefix);
  }
}
