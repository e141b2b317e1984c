import { Counter, type Registry } from "prom-client";
import type { UpdateService } from "./UpdateService.js";

/**
 * Update counters, read from the state file at scrape time: attempts and
 * results made by the CLI count too, and a rollback found when the old
 * version starts is one more than the total the failed version last showed.
 */
export function registerUpdateMetrics(registry: Registry, service: UpdateService): void {
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
}
