import fp from "fastify-plugin";
import { join } from "node:path";
import { Database } from "./Database.js";
import { backupDirOf, releaseLock, takeLock } from "./backups.js";
import { packageVersion } from "../../core/packageVersion.js";
import { onVersionChange, recordVersion, type VersionChangeReport } from "./versionSnapshot.js";
import "./errors.js";

declare module "fastify" {
  interface FastifyInstance {
    db: Database;
    /** What this start did about a change of software version: a snapshot before migrating, or a restore after a rollback. */
    dbVersionChange: VersionChangeReport;
  }
}

/** Where the node's database lives under a data dir. */
export function dbPathOf(dataDir: string): string {
  return join(dataDir, "sovereign.db");
}

/**
 * Opens <dataDir>/sovereign.db once for every service, after quick_check: a
 * damaged file stops the boot with DB_CORRUPT and the restore path. A lock
 * file with our pid tells `sovereign restore` that the node has it open.
 */
export const dbPlugin = fp(
  async (app) => {
    const dataDir = app.config["paths.dataDir"];
    const path = dbPathOf(dataDir);
    const open = (): Database => Database.open(path, { cacheMb: app.tuning.sqliteCacheMb.value, backupDir: backupDirOf(dataDir) });
    const opened = open();
    // A second process on the same file (a CLI command) never takes or removes the running node's lock.
    const ownsLock = takeLock(path);
    // Before any service migrates: a snapshot when this version is newer, a restore when it is older (a rollback).
    const running = packageVersion();
    const change = await onVersionChange(opened, dataDir, running, open);
    const db = change.db;
    if (change.report.kind === "snapshot-taken" || change.report.kind === "restored") app.log.warn({ versionChange: change.report }, change.report.summary);
    app.decorate("db", db);
    app.decorate("dbVersionChange", change.report);
    app.addHook("onReady", async () => recordVersion(db, dataDir, running));
    app.health.register({
      name: "db",
      liveness: false,
      check: () => {
        db.sqlite.prepare("SELECT 1").get();
        return { ok: true, detail: `wal ${Math.round(db.walSizeBytes() / 1024)} KiB` };
      },
    });
    app.addHook("onClose", async () => {
      try {
        // A clean shutdown leaves no WAL behind, so copies of the data dir are self-contained.
        if (db.sqlite.open) db.checkpoint("TRUNCATE");
      } catch {
        // A failed checkpoint is harmless: the WAL is replayed at the next open.
      }
      db.close();
      if (ownsLock) releaseLock(path);
    });
  },
  { name: "sovereign-db", dependencies: ["sovereign-context", "sovereign-health"] },
);
