import fp from "fastify-plugin";
import type { FastifyInstance } from "fastify";
import { IdleTracker } from "./IdleTracker.js";
import { JobStore } from "./JobStore.js";
import { Scheduler } from "./Scheduler.js";
import { schedulerMigrations } from "./migrations.js";
import { jobRoutes } from "./jobRoutes.js";
import "./errors.js";

declare module "fastify" {
  interface FastifyInstance {
    scheduler: Scheduler;
  }
}

/**
 * The job scheduler: services register jobs while the app loads
 * (`app.scheduler.register`), cron timers start once the app is ready.
 * It also owns the always-on housekeeping jobs: the WAL checkpoint and
 * pruning its own history (other services register their own jobs).
 */
export const schedulerPlugin = fp(
  async (app) => {
    app.db.migrate("scheduler", schedulerMigrations);
    const store = new JobStore(app.db.sqlite);
    const interrupted = store.markInterrupted();
    if (interrupted > 0) app.log.warn({ interrupted }, "job runs interrupted by the last stop were marked");
    const scheduler = new Scheduler({
      store,
      idle: new IdleTracker(),
      idleMs: app.config["scheduler.idleMinutes"] * 60_000,
      log: app.log,
    });
    app.decorate("scheduler", scheduler);

    // Anyone changing something through the API (chat, ingest, settings) counts as using the node;
    // dashboards polling with GET do not.
    app.addHook("onRequest", async (request) => {
      if (request.method !== "GET" && request.method !== "HEAD" && (request.url.startsWith("/api/") || request.url.startsWith("/v1/"))) {
        scheduler.markActivity();
      }
    });

    registerHousekeepingJobs(app, scheduler, store);
    await app.register(jobRoutes, { scheduler, store });

    app.addHook("onReady", async () => {
      if (app.config["scheduler.enabled"]) scheduler.start();
    });
    app.addHook("preClose", async () => {
      await scheduler.close(Math.min(5000, app.config["server.shutdownTimeoutMs"] / 2));
    });
  },
  { name: "sovereign-scheduler", dependencies: ["sovereign-context", "sovereign-db"] },
);

function registerHousekeepingJobs(app: FastifyInstance, scheduler: Scheduler, store: JobStore): void {
  scheduler.register({
    name: "db-checkpoint",
    schedule: "*/5 * * * *",
    description: "Copies the WAL into the database file and truncates it, keeping the WAL small.",
    timeoutMs: 60_000,
    run: () => {
      const before = app.db.walSizeBytes();
      const r = app.db.checkpoint("TRUNCATE");
      return { ...r, walBytesBefore: before, walBytesAfter: app.db.walSizeBytes() };
    },
  });
  scheduler.register({
    name: "job-history-prune",
    schedule: "15 3 * * *",
    description: "Deletes job run records older than scheduler.historyDays.",
    timeoutMs: 60_000,
    run: () => ({ deleted: store.prune(Date.now() - app.config["scheduler.historyDays"] * 86_400_000) }),
  });
}
