import fp from "fastify-plugin";
import type { FastifyInstance } from "fastify";
import type { Migration } from "../../services/db/Database.js";

/**
 * Liveness checks the systemd watchdog depends on, beyond the event loop:
 * the database accepts a write, and the inference engine is not wedged.
 * A failing liveness check withholds WATCHDOG=1, so systemd restarts the node.
 */
export const watchdogMigrations: readonly Migration[] = [
  { version: 1, name: "heartbeat row", up: (db) => db.exec("CREATE TABLE watchdog_heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL, beats INTEGER NOT NULL)") },
];

export const selfCheckPlugin = fp(
  async (app) => {
    app.db.migrate("watchdog", watchdogMigrations);
    const beat = app.db.sqlite.prepare(
      "INSERT INTO watchdog_heartbeat (id, at, beats) VALUES (1, ?, 1) ON CONFLICT(id) DO UPDATE SET at = excluded.at, beats = beats + 1",
    );
    const write = app.db.sqlite.transaction((at: string) => beat.run(at));
    app.health.register({
      name: "db-writable",
      liveness: true,
      check: () => {
        const t0 = process.hrtime.bigint();
        // A real committed write: a read-only, full or locked database fails here.
        write(new Date().toISOString());
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        app.metrics.observeQuery("liveness_write", seconds);
        return { ok: true, detail: `wrote in ${(seconds * 1000).toFixed(1)} ms` };
      },
    });

    app.health.register({ name: "inference-progress", liveness: true, check: inferenceCheck(app) });
  },
  { name: "sovereign-self-check", dependencies: ["sovereign-db", "sovereign-health", "sovereign-metrics", "sovereign-inference"] },
);

/** Busy slots with no request finishing for watchdog.inferenceStallSeconds means the engine is wedged. */
function inferenceCheck(app: FastifyInstance) {
  const stallMs = app.config["watchdog.inferenceStallSeconds"] * 1000;
  let lastRequests = -1;
  let lastProgressAt = Date.now();
  return () => {
    const s = app.inference.status();
    const active = s.queue.active;
    const requests = s.totals.requests;
    const now = Date.now();
    if (active === 0 || requests !== lastRequests) {
      lastRequests = requests;
      lastProgressAt = now;
      return { ok: true, detail: `${active} active` };
    }
    const stalled = now - lastProgressAt;
    return stalled > stallMs
      ? { ok: false, detail: `${active} generations busy and none finished for ${Math.round(stalled / 1000)} s` }
      : { ok: true, detail: `${active} active` };
  };
}
