import type { Migration } from "../db/Database.js";

/** The scheduler's tables. Forward-only: never edit a released step, add one. */
export const schedulerMigrations: readonly Migration[] = [
  {
    version: 1,
    name: "jobs and runs",
    up: (db) => {
      db.exec(`
        CREATE TABLE scheduler_jobs (
          name TEXT PRIMARY KEY,
          paused INTEGER NOT NULL DEFAULT 0,
          -- Cross-process overlap guard: a run holds the lease until it ends or the lease expires.
          lease_until INTEGER,
          lease_owner TEXT
        );
        CREATE TABLE job_runs (
          id INTEGER PRIMARY KEY,
          job TEXT NOT NULL,
          trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual')),
          started_at INTEGER NOT NULL,
          ended_at INTEGER,
          outcome TEXT NOT NULL CHECK (outcome IN ('running', 'ok', 'error', 'timeout', 'skipped', 'interrupted')),
          error TEXT,
          result TEXT
        );
        CREATE INDEX job_runs_job ON job_runs (job, started_at DESC);`);
    },
  },
];
