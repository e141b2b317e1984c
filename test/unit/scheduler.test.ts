import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { IdleTracker } from "../../services/scheduler/IdleTracker.js";
import { JobStore } from "../../services/scheduler/JobStore.js";
import { schedulerMigrations } from "../../services/scheduler/migrations.js";
import { Scheduler } from "../../services/scheduler/Scheduler.js";
import { Database } from "../../services/db/Database.js";
import { SovereignError } from "../../core/errors/SovereignError.js";

let db: Database;
let clock: number;
let scheduler: Scheduler;
const make = (d: Database, idle = new IdleTracker(() => clock)) =>
  new Scheduler({ store: new JobStore(d.sqlite), idle, idleMs: 60_000 });

beforeEach(() => {
  db = new Database(":memory:");
  db.migrate("scheduler", schedulerMigrations);
  clock = 1_000_000;
  scheduler = make(db);
});
afterEach(async () => {
  await scheduler.close(100);
  db.close();
});

describe("Scheduler", () => {
  it("validates registrations", () => {
    expect(() => scheduler.register({ name: "Bad Name", schedule: "* * * * *", timeoutMs: 1, run: () => 1 })).toThrow(/kebab-case/);
    expect(() => scheduler.register({ name: "x", schedule: "not cron", timeoutMs: 1, run: () => 1 })).toThrow(/invalid cron/);
    scheduler.register({ name: "x", schedule: "* * * * *", timeoutMs: 1000, run: () => 1 });
    expect(() => scheduler.register({ name: "x", schedule: "* * * * *", timeoutMs: 1000, run: () => 1 })).toThrow(/twice/);
  });

  it("records ok, error and timeout runs with their results", async () => {
    scheduler.register({ name: "ok", schedule: "0 3 * * *", timeoutMs: 1000, run: () => ({ done: 3 }) });
    scheduler.register({ name: "boom", schedule: "0 3 * * *", timeoutMs: 1000, run: () => Promise.reject(new Error("it broke")) });
    scheduler.register({
      name: "slow",
      schedule: "0 3 * * *",
      timeoutMs: 20,
      run: (ctx) => new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve("stopped"))),
    });
    expect(await scheduler.runNow("ok").done).toMatchObject({ outcome: "ok", result: { done: 3 }, trigger: "manual" });
    expect(await scheduler.runNow("boom").done).toMatchObject({ outcome: "error", error: "it broke" });
    expect(await scheduler.runNow("slow").done).toMatchObject({ outcome: "timeout" });
    const list = scheduler.list();
    expect(list.map((j) => [j.name, j.lastRun?.outcome])).toEqual([
      ["boom", "error"],
      ["ok", "ok"],
      ["slow", "timeout"],
    ]);
    expect(() => scheduler.runNow("nope")).toThrow(SovereignError);
  });

  it("never overlaps a job, in one process or across two on the same file", async () => {
    let release: () => void = () => {};
    scheduler.register({ name: "long", schedule: "0 3 * * *", timeoutMs: 60_000, run: () => new Promise<void>((r) => (release = r)) });
    const first = scheduler.runNow("long");
    expect(() => scheduler.runNow("long")).toThrow(expect.objectContaining({ code: "JOB_ALREADY_RUNNING" }));
    expect(await scheduler.runScheduled("long")).toBeUndefined();

    const other = make(db);
    other.register({ name: "long", schedule: "0 3 * * *", timeoutMs: 60_000, run: () => "second" });
    expect(() => other.runNow("long")).toThrow(expect.objectContaining({ code: "JOB_ALREADY_RUNNING" }));
    release();
    await first.done;
    expect(await other.runNow("long").done).toMatchObject({ outcome: "ok", result: "second" });
    await other.close(100);
  });

  it("runs onlyWhenIdle jobs only after the quiet time, and paused jobs not at all on schedule", async () => {
    let runs = 0;
    scheduler.register({ name: "night", schedule: "0 3 * * *", onlyWhenIdle: true, timeoutMs: 1000, run: () => ++runs });
    scheduler.markActivity();
    clock += 30_000;
    expect(await scheduler.runScheduled("night")).toMatchObject({ outcome: "skipped" });
    expect(runs).toBe(0);
    clock += 31_000;
    expect(await scheduler.runScheduled("night")).toMatchObject({ outcome: "ok" });
    scheduler.pause("night");
    expect(await scheduler.runScheduled("night")).toBeUndefined();
    expect(runs).toBe(1);
    expect(await scheduler.runNow("night").done).toMatchObject({ outcome: "ok" });
    scheduler.resume("night");
    expect(scheduler.list()[0]?.paused).toBe(false);
  });

  it("marks runs left running by a dead process as interrupted", () => {
    const store = new JobStore(db.sqlite);
    store.ensure("x");
    store.startRun("x", "schedule");
    expect(store.markInterrupted()).toBe(1);
    expect(store.lastRun("x")?.outcome).toBe("interrupted");
  });

  it("tells listeners about finished runs", async () => {
    const seen: string[] = [];
    scheduler.onRunFinished((r) => seen.push(`${r.job}:${r.outcome}`));
    scheduler.register({ name: "x", schedule: "0 3 * * *", timeoutMs: 1000, run: () => 1 });
    await scheduler.runNow("x").done;
    expect(seen).toEqual(["x:ok"]);
  });
});

describe("scheduler migrations", () => {
  it("v1 creates jobs and runs", () => {
    const s = new BetterSqlite3(":memory:");
    schedulerMigrations[0]?.up(s);
    const tables = (s.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name);
    expect(tables).toEqual(expect.arrayContaining(["scheduler_jobs", "job_runs"]));
    expect(() => s.prepare("INSERT INTO job_runs (job, trigger, started_at, outcome) VALUES ('a', 'bogus', 1, 'ok')").run()).toThrow(/CHECK/);
    s.close();
  });
});
