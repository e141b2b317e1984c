import BetterSqlite3 from "better-sqlite3";
import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { isCorrupt } from "./sqliteErrors.js";

/** A forward-only schema step. `version` counts from 1 per owner and never changes once released. */
export interface Migration {
  version: number;
  name: string;
  up: (db: BetterSqlite3.Database) => void;
}

export interface DatabaseOptions {
  /** Page cache in MiB (from tuning). Defaults to SQLite's own (2 MiB). */
  cacheMb?: number;
  readonly?: boolean;
  /** How long a writer waits for another connection's lock, in ms. Defaults to 5000. */
  busyTimeoutMs?: number;
  /** The WAL file is truncated back to this size after checkpoints, in bytes. Defaults to 64 MiB. */
  walSizeLimitBytes?: number;
}

export interface CheckpointResult {
  busy: boolean;
  walPages: number;
  checkpointedPages: number;
}

/**
 * The node's one SQLite file. Each service owns its tables and migrates them
 * under its own name, so services evolve independently in the same file.
 *
 * Durability settings are explicit because the bundled SQLite defaults WAL to
 * synchronous=NORMAL, which can lose the last commits on a power cut.
 */
export class Database {
  readonly sqlite: BetterSqlite3.Database;

  constructor(readonly path: string, options: DatabaseOptions = {}) {
    const busy = options.busyTimeoutMs ?? 5000;
    // The file holds password hashes and keys' hashes: owner-only. SQLite gives the
    // -wal and -shm files the database file's mode, so set it before they exist.
    if (!options.readonly && path !== ":memory:") {
      try {
        writeFileSync(path, "", { mode: 0o600, flag: "wx" });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        chmodSync(path, 0o600);
      }
    }
    this.sqlite = new BetterSqlite3(path, { readonly: options.readonly ?? false, timeout: busy });
    try {
      if (!options.readonly) this.sqlite.pragma("journal_mode = WAL");
      this.sqlite.pragma("synchronous = FULL");
      this.sqlite.pragma("foreign_keys = ON");
      this.sqlite.pragma(`busy_timeout = ${busy}`);
      // Bounds the WAL on disk: after a checkpoint SQLite truncates it back to this size.
      this.sqlite.pragma(`journal_size_limit = ${options.walSizeLimitBytes ?? 64 * 1024 * 1024}`);
      if (options.cacheMb) this.sqlite.pragma(`cache_size = -${Math.round(options.cacheMb * 1024)}`);
      if (!options.readonly) {
        this.sqlite.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
          owner TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,
          PRIMARY KEY (owner, version))`);
      }
    } catch (err) {
      this.sqlite.close();
      if (isCorrupt(err)) throw corruptError(path, [String((err as Error).message)]);
      throw err;
    }
  }

  /**
   * Opens the file and runs `quick_check` before anything touches it. A
   * failing check throws DB_CORRUPT naming the problems and the restore path:
   * the node never starts silently on an empty or damaged store.
   */
  static open(path: string, options: DatabaseOptions & { backupDir?: string } = {}): Database {
    let db: Database;
    if (!options.readonly && path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    try {
      db = new Database(path, options);
    } catch (err) {
      if (err instanceof SovereignError && err.code === "DB_CORRUPT") throw corruptError(path, [err.message], options.backupDir);
      throw err;
    }
    let problems: string[];
    try {
      problems = db.quickCheck();
    } catch (err) {
      db.close();
      if (isCorrupt(err)) throw corruptError(path, [(err as Error).message], options.backupDir);
      throw err;
    }
    if (problems.length > 0) {
      db.close();
      throw corruptError(path, problems, options.backupDir);
    }
    return db;
  }

  /** Problems found by `PRAGMA quick_check` (empty when the file is sound). */
  quickCheck(max = 20): string[] {
    return checkRows(this.sqlite.pragma(`quick_check(${max})`) as Array<Record<string, string>>);
  }

  /** Problems found by the full `PRAGMA integrity_check` (slower; used for backups and fault tests). */
  integrityCheck(max = 20): string[] {
    return checkRows(this.sqlite.pragma(`integrity_check(${max})`) as Array<Record<string, string>>);
  }

  /** Copies WAL pages into the main file. TRUNCATE also shrinks the WAL to zero when no reader holds it. */
  checkpoint(mode: "PASSIVE" | "FULL" | "RESTART" | "TRUNCATE" = "PASSIVE"): CheckpointResult {
    // The blocking modes wait for readers through the busy handler; on the event loop that wait must be short.
    const previous = this.sqlite.pragma("busy_timeout", { simple: true }) as number;
    if (mode !== "PASSIVE") this.sqlite.pragma("busy_timeout = 200");
    try {
      const row = (this.sqlite.pragma(`wal_checkpoint(${mode})`) as Array<{ busy: number; log: number; checkpointed: number }>)[0];
      return { busy: (row?.busy ?? 0) !== 0, walPages: row?.log ?? 0, checkpointedPages: row?.checkpointed ?? 0 };
    } finally {
      if (mode !== "PASSIVE") this.sqlite.pragma(`busy_timeout = ${previous}`);
    }
  }

  /** Size of the -wal file in bytes (0 when absent). */
  walSizeBytes(): number {
    try {
      return statSync(`${this.path}-wal`).size;
    } catch {
      return 0;
    }
  }

  /** Current schema version of an owner (0 when it has none). */
  version(owner: string): number {
    return schemaVersion(this.sqlite, owner);
  }

  /**
   * Applies the owner's pending migrations, each in its own transaction. A
   * database newer than the code (a version we don't know) is refused.
   */
  migrate(owner: string, migrations: readonly Migration[]): void {
    const current = this.version(owner);
    const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
    if (current > latest) {
      throw new SovereignError("DB_SCHEMA_TOO_NEW", `The database's ${owner} schema is version ${current}, newer than this software knows (${latest}).`, {
        details: { owner, current, latest },
      });
    }
    const sorted = [...migrations].sort((a, b) => a.version - b.version);
    sorted.forEach((m, i) => {
      if (m.version !== i + 1) throw new Error(`${owner} migrations must be numbered 1..n without gaps (found ${m.version} at ${i + 1})`);
    });
    const record = this.sqlite.prepare("INSERT INTO schema_migrations (owner, version, name, applied_at) VALUES (?, ?, ?, ?)");
    for (const m of sorted) {
      if (m.version <= current) continue;
      this.sqlite.transaction(() => {
        m.up(this.sqlite);
        record.run(owner, m.version, m.name, new Date().toISOString());
      })();
    }
  }

  close(): void {
    if (this.sqlite.open) this.sqlite.close();
  }
}

/** Schema version of an owner in any open SQLite handle (0 when it has none or the table is missing). */
export function schemaVersion(sqlite: BetterSqlite3.Database, owner: string): number {
  const table = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!table) return 0;
  const row = sqlite.prepare("SELECT MAX(version) AS v FROM schema_migrations WHERE owner = ?").get(owner) as { v: number | null };
  return row.v ?? 0;
}

function checkRows(rows: Array<Record<string, string>>): string[] {
  const lines = rows.map((r) => Object.values(r)[0] ?? "");
  return lines.length === 1 && lines[0] === "ok" ? [] : lines;
}

function corruptError(path: string, problems: string[], backupDir?: string): SovereignError {
  const where = backupDir ? ` Backups are in ${backupDir}.` : "";
  return new SovereignError("DB_CORRUPT", `The database ${path} failed its integrity check; the node will not start on it.${where}`, {
    hint: `Stop the node and restore a backup: \`sovereign restore ${backupDir ?? "<dataDir>/backups"}/<file>.db\` (the damaged file is kept beside it).`,
    details: { path, problems: problems.slice(0, 20), ...(backupDir ? { backupDir } : {}) },
  });
}
