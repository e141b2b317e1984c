import BetterSqlite3 from "better-sqlite3";
import { chmodSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { schemaVersion, type Database } from "./Database.js";
import { toDbError } from "./sqliteErrors.js";

const BACKUP_RE = /^sovereign-\d{8}T\d{6}(?:\d{3})?Z\.db$/;

export interface BackupInfo {
  path: string;
  name: string;
  bytes: number;
  createdAt: string;
}

export interface BackupResult extends BackupInfo {
  durationMs: number;
  integrity: "ok";
  pruned: string[];
}

export function backupDirOf(dataDir: string): string {
  return join(dataDir, "backups");
}

/** Backups in the directory, newest first. */
export function listBackups(dir: string): BackupInfo[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => BACKUP_RE.test(n))
    .map((name) => {
      const path = join(dir, name);
      const st = statSync(path);
      return { path, name, bytes: st.size, createdAt: st.mtime.toISOString() };
    })
    .sort((a, b) => (a.name < b.name ? 1 : -1));
}

/**
 * Copies the live database with SQLite's online backup API (writers keep
 * going), verifies the copy with integrity_check, then publishes it under its
 * final name and prunes all but the newest `keep` backups.
 */
export async function createBackup(db: Database, dir: string, options: { keep: number; now?: Date }): Promise<BackupResult> {
  const started = Date.now();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stamp = (options.now ?? new Date()).toISOString().replace(/[-:]/g, "").replace(".", "");
  const name = `sovereign-${stamp}.db`;
  const final = join(dir, name);
  const tmp = `${final}.partial`;
  // The whole database: made 0600 before SQLite writes into it (SQLite keeps an existing file's mode, and gives it to its journals).
  closeSync(openSync(tmp, "w", 0o600));
  chmodSync(tmp, 0o600);
  try {
    await db.sqlite.backup(tmp);
    // A self-contained file: the copy carries the live database's WAL mode, and opening it would leave -wal and -shm beside it.
    const copy = new BetterSqlite3(tmp, { fileMustExist: true });
    try {
      copy.pragma("journal_mode = DELETE");
    } finally {
      copy.close();
    }
  } catch (err) {
    removeWithSidecars(tmp);
    throw toDbError(err, "backup");
  }
  const problems = inspect(tmp).problems;
  removeSidecars(tmp);
  if (problems.length > 0) {
    removeWithSidecars(tmp);
    throw new SovereignError("BACKUP_INVALID", `The backup copy failed its integrity check: ${problems.join("; ")}`, { details: { problems } });
  }
  fsyncFile(tmp);
  renameSync(tmp, final);
  fsyncFile(dir);
  const pruned = listBackups(dir)
    .slice(Math.max(1, options.keep))
    .map((b) => {
      rmSync(b.path, { force: true });
      return b.name;
    });
  const st = statSync(final);
  return { path: final, name, bytes: st.size, createdAt: st.mtime.toISOString(), durationMs: Date.now() - started, integrity: "ok", pruned };
}

/** SQLite's files beside a database: its WAL, shared-memory index and rollback journal. */
function removeSidecars(path: string): void {
  for (const suffix of ["-wal", "-shm", "-journal"]) rmSync(`${path}${suffix}`, { force: true });
}

function removeWithSidecars(path: string): void {
  rmSync(path, { force: true });
  removeSidecars(path);
}

export interface BackupInspection {
  problems: string[];
  /** Schema version per owner found in the file. */
  schemas: Record<string, number>;
}

/** Opens a file read-only and reports integrity problems and schema versions; never modifies it. */
export function inspect(path: string): BackupInspection {
  let sqlite: BetterSqlite3.Database | undefined;
  try {
    sqlite = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
    const rows = sqlite.pragma("integrity_check(20)") as Array<Record<string, string>>;
    const lines = rows.map((r) => Object.values(r)[0] ?? "");
    const problems = lines.length === 1 && lines[0] === "ok" ? [] : lines;
    const schemas: Record<string, number> = {};
    const hasTable = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'").get();
    if (hasTable) {
      for (const r of sqlite.prepare("SELECT DISTINCT owner FROM schema_migrations").all() as Array<{ owner: string }>) {
        schemas[r.owner] = schemaVersion(sqlite, r.owner);
      }
    }
    return { problems, schemas };
  } catch (err) {
    return { problems: [(err as Error).message], schemas: {} };
  } finally {
    sqlite?.close();
  }
}

/**
 * Checks that a file can replace the live database: it opens, passes
 * integrity_check, and no owner's schema is newer than this software knows.
 */
export function verifyBackup(path: string, latestByOwner: Record<string, number>): BackupInspection {
  if (!existsSync(path)) throw new SovereignError("BACKUP_NOT_FOUND", `No such file: ${path}`);
  const result = inspect(path);
  if (result.problems.length > 0) {
    throw new SovereignError("BACKUP_INVALID", `${path} is not a sound SQLite database: ${result.problems.slice(0, 3).join("; ")}`, {
      details: { problems: result.problems },
    });
  }
  if (Object.keys(result.schemas).length === 0) {
    throw new SovereignError("BACKUP_INVALID", `${path} is a SQLite file but not a Sovereign Node database (no schema_migrations).`);
  }
  for (const [owner, version] of Object.entries(result.schemas)) {
    const known = latestByOwner[owner];
    if (known !== undefined && version > known) {
      throw new SovereignError("BACKUP_INVALID", `${path} has ${owner} schema version ${version}, newer than this software knows (${known}).`, {
        hint: "Upgrade the node before restoring this backup, or pick an older backup.",
        details: { owner, version, known },
      });
    }
  }
  return result;
}

export interface RestoreResult {
  restored: string;
  from: string;
  /** Where the replaced database was moved (absent when there was none). */
  previous?: string;
  schemas: Record<string, number>;
}

/**
 * Replaces the database file with a verified backup while the node is
 * stopped. The old file (and its WAL, which belongs to it) is kept beside it
 * as `<db>.replaced-<time>`, never deleted.
 */
export function restoreBackup(file: string, dbPath: string, latestByOwner: Record<string, number>): RestoreResult {
  const { schemas } = verifyBackup(file, latestByOwner);
  assertNotRunning(dbPath);
  mkdirSync(dirname(dbPath), { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:.]/g, "");
  let previous: string | undefined;
  if (existsSync(dbPath)) {
    previous = `${dbPath}.replaced-${stamp}`;
    renameSync(dbPath, previous);
    for (const suffix of ["-wal", "-shm"]) {
      if (existsSync(dbPath + suffix)) renameSync(dbPath + suffix, previous + suffix);
    }
  }
  const tmp = `${dbPath}.restoring`;
  copyFileSync(file, tmp);
  // The live database is 0600 whatever mode the restored file had (backups made before 0600 were 0644).
  chmodSync(tmp, 0o600);
  fsyncFile(tmp);
  renameSync(tmp, dbPath);
  fsyncFile(dirname(dbPath));
  return { restored: dbPath, from: file, ...(previous ? { previous } : {}), schemas };
}

/** The lock file a running node keeps beside its database (pid inside). */
export function lockPathOf(dbPath: string): string {
  return `${dbPath}.lock`;
}

function readLock(dbPath: string): number | undefined {
  try {
    const pid = Number(readFileSync(lockPathOf(dbPath), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Throws NODE_RUNNING when a live node process holds the database. */
export function assertNotRunning(dbPath: string): void {
  if (isLocked(dbPath)) throw new SovereignError("NODE_RUNNING", `A running node (pid ${readLock(dbPath)}) has ${dbPath} open.`);
}

/** Takes the lock file for this process unless a live node holds it; returns whether we own it. */
export function takeLock(dbPath: string): boolean {
  if (isLocked(dbPath)) return false;
  writeFileSync(lockPathOf(dbPath), `${process.pid}\n`, { mode: 0o600 });
  return true;
}

/** Removes the lock file if it is ours. */
export function releaseLock(dbPath: string): void {
  if (readLock(dbPath) === process.pid) rmSync(lockPathOf(dbPath), { force: true });
}

/** True when the lock file names a live process other than this one. */
export function isLocked(dbPath: string): boolean {
  const pid = readLock(dbPath);
  if (pid === undefined || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function fsyncFile(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    fsyncSync(fd);
  } catch {
    // Directories cannot be fsynced on every filesystem; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export const backupFileName = (path: string): string => basename(path);
