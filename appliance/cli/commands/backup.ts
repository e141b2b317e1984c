import type { Command } from "commander";
import { Database } from "../../../services/db/Database.js";
import { backupDirOf, createBackup, listBackups } from "../../../services/db/backups.js";
import { dbPathOf } from "../../../services/db/dbPlugin.js";
import { printResult } from "../output.js";
import { addSettingFlags, configFromFlags } from "../settingFlags.js";

/** `sovereign backup`: a verified online backup now (the node may keep running), and `backup list`. */
export function registerBackupCommand(program: Command): void {
  const backup = addSettingFlags(program.command("backup").description("Back up the database now (safe while the node runs), or list backups."), [
    "paths.dataDir",
    "memory.backupKeep",
  ])
    .option("--json", "machine-readable output")
    .action(async (opts: Record<string, unknown>) => {
      const { config } = configFromFlags(opts);
      const dataDir = config["paths.dataDir"];
      const db = Database.open(dbPathOf(dataDir), { backupDir: backupDirOf(dataDir) });
      try {
        const result = await createBackup(db, backupDirOf(dataDir), { keep: config["memory.backupKeep"] });
        printResult(Boolean(opts.json), result, () =>
          [`backup written and verified: ${result.path} (${result.bytes} bytes, ${result.durationMs} ms)`, ...result.pruned.map((p) => `pruned ${p}`)].join("\n"),
        );
      } finally {
        db.close();
      }
    });
  addSettingFlags(backup.command("list").description("List backups, newest first."), ["paths.dataDir"])
    .option("--json", "machine-readable output")
    .action((opts: Record<string, unknown>) => {
      const { config } = configFromFlags({ ...backup.opts(), ...opts });
      const list = listBackups(backupDirOf(config["paths.dataDir"]));
      printResult(Boolean(opts.json), list, () => (list.length === 0 ? "no backups" : list.map((b) => `${b.path}  ${b.bytes} bytes  ${b.createdAt}`).join("\n")));
    });
}
