import type BetterSqlite3 from "better-sqlite3";
import { guardDb } from "../db/sqliteErrors.js";
import { Statements } from "../db/Statements.js";

export type RunOutcome = "running" | "ok" | "error" | "timeout" | "skipped" | "interrupted";
export type RunTrigger = "schedule" | "manual";

export interface JobRun {
  id: number;
  job: string;
  trigger: RunTrigger;
  startedAt: string;
  endedAt: string | null;
  outcome: RunOutcome;
  error: string | null;
  result: unknown;
}

interface RunRow {
  id: number;
  job: string;
  trigger: RunTrigger;
  started_at: number;
  ended_at: number | null;
  outcome: RunOutcome;
  error: string | null;
  result: string | null;
}

const MAX_RESULT_CHARS = 16_000;

/** The scheduler's rows: pause flags, run leases and run history. Usable without the app (the CLI). */
export class JobStore {
  /** Prepared once per SQL text: jobs write runs on every tick. */
  private readonly sql: Statements;

  constructor(private readonly db: BetterSqlite3.Database) {
    this.sql = new Statements(db);
  }

  ensure(name: string): void {
    guardDb(() => this.sql.get("INSERT OR IGNORE INTO scheduler_jobs (name) VALUES (?)").run(name));
  }

  known(name: string): boolean {
    return this.sql.get("SELECT 1 FROM scheduler_jobs WHERE name = ?").get(name) !== undefined;
  }

  names(): string[] {
    return (this.sql.get("SELECT name FROM scheduler_jobs ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
  }

  isPaused(name: string): boolean {
    const row = this.sql.get("SELECT paused FROM scheduler_jobs WHERE name = ?").get(name) as { paused: number } | undefined;
    return (row?.paused ?? 0) !== 0;
  }

  setPaused(name: string, paused: boolean): void {
    guardDb(() => this.sql.get("UPDATE scheduler_jobs SET paused = ? WHERE name = ?").run(paused ? 1 : 0, name));
  }

  /** Takes the job's lease unless a live one is held (by this or another process). */
  tryLease(name: string, owner: string, untilMs: number, nowMs = Date.now()): boolean {
    const r = guardDb(() =>
      this.sql
        .get("UPDATE scheduler_jobs SET lease_until = ?, lease_owner = ? WHERE name = ? AND (lease_until IS NULL OR lease_until < ?)")
        .run(untilMs, owner, name, nowMs),
    );
    return r.changes === 1;
  }

  releaseLease(name: string, owner: string): void {
    this.sql.get("UPDATE scheduler_jobs SET lease_until = NULL, lease_owner = NULL WHERE name = ? AND lease_owner = ?").run(name, owner);
  }

  leaseHeld(name: string, nowMs = Date.now()): boolean {
    const row = this.sql.get("SELECT lease_until FROM scheduler_jobs WHERE name = ?").get(name) as { lease_until: number | null } | undefined;
    return row?.lease_until != null && row.lease_until >= nowMs;
  }

  startRun(job: string, trigger: RunTrigger, nowMs = Date.now()): number {
    const r = guardDb(() =>
      this.sql.get("INSERT INTO job_runs (job, trigger, started_at, outcome) VALUES (?, ?, ?, 'running')").run(job, trigger, nowMs),
    );
    return Number(r.lastInsertRowid);
  }

  finishRun(id: number, outcome: Exclude<RunOutcome, "running">, error: string | null, result: unknown, nowMs = Date.now()): void {
    let json: string | null = result === undefined ? null : JSON.stringify(result);
    if (json !== null && json.length > MAX_RESULT_CHARS) json = JSON.stringify({ truncated: true, head: json.slice(0, MAX_RESULT_CHARS) });
    this.sql.get("UPDATE job_runs SET ended_at = ?, outcome = ?, error = ?, result = ? WHERE id = ?").run(nowMs, outcome, error, json, id);
  }

  /** Records a run that did not start (paused, not idle) so the history shows why. */
  recordSkip(job: string, trigger: RunTrigger, reason: string, nowMs = Date.now()): void {
    this.sql
      .get("INSERT INTO job_runs (job, trigger, started_at, ended_at, outcome, error) VALUES (?, ?, ?, ?, 'skipped', ?)")
      .run(job, trigger, nowMs, nowMs, reason);
  }

  /** Runs left "running" by a process that died are marked interrupted at the next start. */
  markInterrupted(nowMs = Date.now()): number {
    const r = this.sql
      .get("UPDATE job_runs SET outcome = 'interrupted', ended_at = ?, error = 'the node stopped during the run' WHERE outcome = 'running'")
      .run(nowMs);
    this.sql.get("UPDATE scheduler_jobs SET lease_until = NULL, lease_owner = NULL WHERE lease_until < ?").run(nowMs);
    return r.changes;
  }

  runs(options: { job?: string; limit?: number } = {}): JobRun[] {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 1000);
    const rows = (
      options.job
        ? this.sql.get("SELECT * FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT ?").all(options.job, limit)
        : this.sql.get("SELECT * FROM job_runs ORDER BY id DESC LIMIT ?").all(limit)
    ) as RunRow[];
    return rows.map(toRun);
  }

  run(id: number): JobRun | undefined {
    const row = this.sql.get("SELECT * FROM job_runs WHERE id = ?").get(id) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }

  lastRun(job: string): JobRun | undefined {
    const row = this.sql.get("SELECT * FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT 1").get(job) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }

  prune(olderThanMs: number): number {
    return this.sql.get("DELETE FROM job_runs WHERE started_at < ? AND outcome != 'running'").run(olderThanMs).changes;
  }
}

function toRun(r: RunRow): JobRun {
  let result: unknown = null;
  if (r.result !== null) {
    try {
      result = JSON.parse(r.result);
    } catch {
      result = r.result;
    }
  }
  return {
    id: r.id,
    job: r.job,
    trigger: r.trigger,
    startedAt: new Date(r.started_at).toISOString(),
    endedAt: r.ended_at === null ? null : new Date(r.ended_at).toISOString(),
    outcome: r.outcome,
    error: r.error,
    result,
  };
}
