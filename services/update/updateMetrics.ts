import { Counter, type Registry } from "prom-client";
import type { UpdateAuditEvent, UpdateService } from "./UpdateService.js";

/** What the pull counters need of the running pull: the bytes its current run has fetched. */
export interface PullProgressSource {
  status(): { fetchedBytes: number } | null;
}

/**
 * Update counters, read from the state file at scrape time: attempts and
 * results made by the CLI count too, and a rollback found when the old
 * version starts is one more than the total the failed version last showed.
 * The pull counters live in this process only (a pull runs only in the node);
 * they follow the pull's audit events, so they are what the audit log says.
 * Returns the function the update plugin passes each update audit event to.
 */
export function registerUpdateMetrics(registry: Registry, service: UpdateService, pull?: () => PullProgressSource | null): (e: UpdateAuditEvent) => void {
  const counters = (): ReturnType<UpdateService["status"]>["counters"] => service.status().counters;
  new Counter({
    name: "sovereign_update_attempts_total", help: "Update bundles this node tried to apply (CLI, upload).", registers: [registry],
    collect() {
      this.reset();
      this.inc(counters().attempts);
    },
  });
  new Counter({
    name: "sovereign_update_results_total", help: "Update outcomes: applied, refused, failed, committed, rolled-back.", labelNames: ["outcome"], registers: [registry],
    collect() {
      this.reset();
      for (const [outcome, n] of Object.entries(counters().results)) this.inc({ outcome }, n);
    },
  });
  new Counter({
    name: "sovereign_update_rollbacks_total", help: "Trial boots of an update that came back on the previous slot.", registers: [registry],
    collect() {
      this.reset();
      this.inc(counters().rollbacks);
    },
  });

  const pulls = new Counter({
    name: "sovereign_update_pulls_total",
    help: "Downloads of a bundle a core peer offered, by how they ended: pulled (whole and verified), corrupt (the bytes did not match the offer), failed (anything else).",
    labelNames: ["outcome"], registers: [registry],
  });
  for (const outcome of ["pulled", "corrupt", "failed"]) pulls.inc({ outcome }, 0);
  // Bytes of runs that ended, plus, at scrape time, those of the run in progress.
  let endedBytes = 0;
  let running = false;
  new Counter({
    name: "sovereign_update_pull_bytes_total", help: "Bytes of update bundles fetched from core peers over HTTP (resumed downloads count only what they fetched).", registers: [registry],
    collect() {
      this.reset();
      this.inc(endedBytes + (running ? (pull?.()?.status()?.fetchedBytes ?? 0) : 0));
    },
  });
  return (e) => {
    if (e.type === "update.pull_started") {
      running = true;
    } else if (e.type === "update.pulled" || e.type === "update.pull_failed") {
      // The pull's status still holds the run that ended; update.pulled also names its fetched bytes.
      const fetched = typeof e.details.fetchedBytes === "number" ? e.details.fetchedBytes : (pull?.()?.status()?.fetchedBytes ?? 0);
      if (running) endedBytes += fetched;
      running = false;
      pulls.inc({ outcome: e.type === "update.pulled" ? "pulled" : e.details.code === "UPDATE_PULL_CORRUPT" ? "corrupt" : "failed" });
    }
  };
}
