import type { Config } from "../../core/config/Config.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { Database } from "../db/Database.js";
import { backupDirOf } from "../db/backups.js";
import { dbPathOf } from "../db/dbPlugin.js";
import { JobStore } from "../scheduler/JobStore.js";
import { schedulerMigrations } from "../scheduler/migrations.js";
import { MemoryService, memoryOptionsFromConfig } from "./MemoryService.js";
import { memoryMigrations } from "./migrations.js";
import { findUserId, type UserDirectory } from "./userId.js";

export interface CliMemory {
  db: Database;
  memory: MemoryService;
  jobs: JobStore;
  close(): void;
}

/**
 * Opens the node's database from the console (CLI commands). WAL lets it run
 * beside a running node. No embedding model here: what the CLI adds is
 * searchable by words at once and embedded by the node in the background.
 */
export function openForCli(config: Config): CliMemory {
  const dataDir = config["paths.dataDir"];
  const db = Database.open(dbPathOf(dataDir), { backupDir: backupDirOf(dataDir) });
  db.migrate("memory", memoryMigrations);
  db.migrate("scheduler", schedulerMigrations);
  const memory = new MemoryService(db.sqlite, {
    embedder: async () => undefined,
    ...memoryOptionsFromConfig(config),
  });
  return { db, memory, jobs: new JobStore(db.sqlite), close: () => db.close() };
}

/**
 * Whose memory a console command touches: `--user` (a user name or id), else
 * the first admin when users exist (the node's owner), else the single local
 * user. `users` is the auth service's view of the same file (the CLI makes it).
 */
export function cliUserId(users: UserDirectory, user: string | undefined): string {
  const id = findUserId(users, user);
  if (id !== undefined) return id;
  if (!users.any()) throw new SovereignError("BAD_REQUEST", `No user "${user}": this node has no user accounts yet.`);
  throw new SovereignError("BAD_REQUEST", `No user "${user}".`, { hint: "List users with `sovereign user list`." });
}
