import fp from "fastify-plugin";
import { join } from "node:path";
import { AuditLog } from "./AuditLog.js";
import { auditMigrations } from "./migrations.js";
import { auditRoutes, type AuditNames } from "./auditRoutes.js";
import { verifyAuditLog, type AuditVerifyReport } from "./verifyAuditLog.js";
import "./errors.js";

export type { AuditEvent, AuditEventInput, AuditCheckpoint } from "./AuditLog.js";

export interface AuditService {
  /** Appends one event synchronously (one SQLite transaction); it is durable when this returns. */
  record: AuditLog["record"];
  list: AuditLog["list"];
  types: AuditLog["types"];
  checkpoints: AuditLog["checkpoints"];
  /** Writes a signed checkpoint of the current head now (federation shares these). */
  checkpoint(reason: string): ReturnType<AuditLog["checkpoint"]>;
  verify(): AuditVerifyReport;
  head(): { seq: number; hash: string };
  /** The checkpoint mirror file, outside the database. */
  readonly mirrorPath: string;
  /** When checkpoints are written: the next timed one (skipped if no event came), and the event count that forces one. */
  schedule(): { intervalMinutes: number; everyEvents: number; nextAt: string };
  /** Names the ids in events for the panel (users, API keys): the auth service hands its lookups here once it has loaded. */
  useNames(names: AuditNames): void;
}

declare module "fastify" {
  interface FastifyInstance {
    audit: AuditService;
  }
}

/** Where the latest signed checkpoint is mirrored (outside SQLite, so a truncated table is still caught). */
export function auditMirrorPath(dataDir: string): string {
  return join(dataDir, "audit", "checkpoint.json");
}

/**
 * The audit service: migrates its tables, decorates `app.audit`, writes signed
 * checkpoints on a timer, every N events and at shutdown, and serves /api/audit.
 */
export const auditPlugin = fp(
  async (app) => {
    app.db.migrate("audit", auditMigrations);
    const mirrorPath = auditMirrorPath(app.config["paths.dataDir"]);
    const log = new AuditLog(app.db.sqlite, {
      signer: app.identity,
      mirrorPath,
      checkpointEveryEvents: app.config["audit.checkpointEveryEvents"],
    });
    let names: AuditNames | undefined;
    const service: AuditService = {
      record: (e) => log.record(e),
      list: (q) => log.list(q),
      types: () => log.types(),
      checkpoints: (n) => log.checkpoints(n),
      checkpoint: (reason) => log.checkpoint(reason),
      verify: () => verifyAuditLog(app.db.sqlite, { publicKey: app.identity.publicKey, mirrorPath }),
      head: () => log.headOf(),
      mirrorPath,
      schedule: () => ({ intervalMinutes, everyEvents: app.config["audit.checkpointEveryEvents"], nextAt: new Date(nextAt).toISOString() }),
      useNames: (n) => {
        names = n;
      },
    };
    app.decorate("audit", service);

    const intervalMinutes = app.config["audit.checkpointIntervalMinutes"];
    let nextAt = Date.now() + intervalMinutes * 60_000;
    const timer = setInterval(() => {
      nextAt = Date.now() + intervalMinutes * 60_000;
      try {
        log.checkpoint("periodic");
      } catch (err) {
        app.log.error({ err }, "audit checkpoint failed");
      }
    }, intervalMinutes * 60_000);
    timer.unref();

    // Registered after sovereign-db, so this runs before the database closes (onClose hooks run in reverse order).
    app.addHook("onClose", async () => {
      clearInterval(timer);
      try {
        if (app.db.sqlite.open) log.checkpoint("shutdown");
      } catch (err) {
        app.log.error({ err }, "audit checkpoint at shutdown failed");
      }
    });

    await app.register(auditRoutes, { names: () => names });
  },
  { name: "sovereign-audit", dependencies: ["sovereign-db", "sovereign-identity"] },
);
