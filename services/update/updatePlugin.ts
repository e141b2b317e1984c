import fp from "fastify-plugin";
import { drainJournal } from "./journal.js";
import { registerUpdateMetrics } from "./updateMetrics.js";
import { updateRoutes } from "./updateRoutes.js";
import { updateServiceFromConfig } from "./serviceFromConfig.js";
import { updateDirOf, type UpdateService } from "./UpdateService.js";
import "./errors.js";
import "./settings.js";

declare module "fastify" {
  interface FastifyInstance {
    update: UpdateService;
  }
}

/**
 * The update service: one status for every way of applying a bundle, the
 * admin API (/api/update), its counters on /metrics, and every attempt and
 * result in the audit log (also those the CLI journalled while the node ran).
 * At start it reconciles the state with the booted slot, which is where a
 * rollback is noticed.
 */
export const updatePlugin = fp(
  async (app) => {
    const updateDir = updateDirOf(app.config["paths.dataDir"]);
    const record = (e: { type: string; actor: string | null; subject: string | null; details: Record<string, unknown> }): void => {
      app.audit.record(e);
    };
    const change = app.dbVersionChange;
    const service = updateServiceFromConfig(app.config, record, () =>
      change.kind === "restored" ? { restoredSnapshot: change.snapshot, keptAside: change.keptAside, notCarriedBack: change.notCarriedBack, summary: change.summary } : null,
    );
    const drain = (): void => {
      try {
        drainJournal(updateDir, record);
      } catch (err) {
        app.log.warn({ err }, "update journal not drained");
      }
    };
    drain();
    service.reconcile();
    app.decorate("update", service);
    registerUpdateMetrics(app.metrics.registry, service);
    await app.register(updateRoutes, { service, maxBundleBytes: app.config["update.maxBundleBytes"], onChange: drain });
  },
  { name: "sovereign-update", dependencies: ["sovereign-db", "sovereign-audit", "sovereign-auth", "sovereign-metrics"] },
);
