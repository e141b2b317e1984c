import type { Command } from "commander";
import { restoreBackup } from "../../../services/db/backups.js";
import { dbPathOf } from "../../../services/db/dbPlugin.js";
import { auditMigrations } from "../../../services/audit/migrations.js";
import { authMigrations } from "../../../services/auth/schema.js";
import { memoryMigrations } from "../../../services/memory/migrations.js";
import { schedulerMigrations } from "../../../services/scheduler/migrations.js";
import { federationMigrations } from "../../../services/federation/migrations.js";
import { watchdogMigrations } from "../../plugins/selfCheck.js";
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
      const result = restoreBackup(file, dbPathOf(config["paths.dataDir"]), latestByOwner);
      printResult(Boolean(opts.json), result, () =>
        [`restored ${result.restored} from ${result.from}`, result.previous ? `the replaced database was kept as ${result.previous}` : ""].filter(Boolean).join("\n"),
      );
    });
}
