import type { Command } from "commander";
import { restoreBackup } from "../../../services/db/backups.js";
import { dbPathOf } from "../../../services/db/dbPlugin.js";
import { auditMigrations } from "../../../services/audit/migrations.js";
import { authMigrations } from "../../../services/auth/schema.js";
import { memoryMigrations } from "../../../services/memory/migrations.js";
import { schedulerMigrations } from "../../../services/scheduler/migrations.js";
import { federationMigrations } from "../../../services/federation/migrations.js";
import { watchdogMigrations } from "../../plugins/selfCheck.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Database } from "../../../services/db/Database.js";
import { AuditLog } from "../../../services/audit/AuditLog.js";
import { auditMirrorPath } from "../../../services/audit/auditPlugin.js";
import { NodeIdentity } from "../../../services/identity/NodeIdentity.js";
import { printResult } from "../output.js";
import { addSettingFlags, configFromFlags } from "../settingFlags.js";

/** The newest schema version this build knows, per owner; a backup newer than any of them is refused. */
const latestByOwner: Record<string, number> = {
  memory: memoryMigrations.length,
  scheduler: schedulerMigrations.length,
  auth: authMigrations.length,
  audit: auditMigrations.length,
  federation: federationMigrations.length,
  watchdog: watchdogMigrations.length,
};

/** `sovereign restore FILE`: replaces the database with a verified backup while the node is stopped. */
export function registerRestoreCommand(program: Command): void {
  addSettingFlags(program.command("restore <file>").description("Restore the database from a backup (the node must be stopped; the old file is kept)."), ["paths.dataDir"])
    .option("--json", "machine-readable output")
    .action((file: string, opts: Record<string, unknown>) => {
      const { config } = configFromFlags(opts);
      const dataDir = config["paths.dataDir"];
      const result = restoreBackup(file, dbPathOf(dataDir), latestByOwner);
      recordRestore(dataDir, result.from, result.previous);
      printResult(Boolean(opts.json), result, () =>
        [`restored ${result.restored} from ${result.from}`, result.previous ? `the replaced database was kept as ${result.previous}` : ""].filter(Boolean).join("\n"),
      );
    });
}

/**
 * A restore is an audited event. The node is stopped (restoreBackup refuses
 * otherwise), so this process is the log's only writer: it appends the event
 * to the restored chain and signs a checkpoint, which re-anchors the mirror
 * the replaced database had moved ahead. Without a node key (a node that never
 * ran) there is no log to keep yet.
 */
function recordRestore(dataDir: string, from: string, previous: string | undefined): void {
  if (!existsSync(join(dataDir, "keys", "node.key"))) return;
  const identity = NodeIdentity.loadOrCreate(dataDir);
  const db = new Database(dbPathOf(dataDir));
  try {
    db.migrate("audit", auditMigrations);
    const log = new AuditLog(db.sqlite, { signer: identity, mirrorPath: auditMirrorPath(dataDir) });
    log.record({ type: "db.restored", actor: "console", details: { from, replacedDatabaseKeptAs: previous ?? null } });
    log.checkpoint("restore", true);
  } finally {
    db.close();
  }
}
