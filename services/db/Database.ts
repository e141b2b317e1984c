import BetterSqlite3 from "better-sqlite3";
import { SovereignError } from "../../appliance/errors/SovereignError.js";

/** A forward-only schema step. `version` counts from 1 per owner and never changes once released. */
export interface Migration {
  version: number;
  name: string;
  up: (db: BetterSqlite3.Database) => void;
}

/**
 * The node's one SQLite file. Each service owns its tables and migrates them
 * under its own name, so services evolve independently in the same file.
 */
export class Database {
  readonly sqlite: BetterSqlite3.Database;

  constructor(readonly path: string, options: { cacheMb?: number; readonly?: boolean } = {}) {
    this.sqlite = new BetterSqlite3(path, { readonly: options.readonly ?? false, timeout: 5000 });
    this.sqlite.pragma("journal_mode = WAL");
    // The bundled SQLite defaults WAL to NORMAL, which can lose the last commits on power loss.
    this.sqlite.pragma("synchronous = FULL");
    this.sqlite.pragma("foreign_keys = ON");
    this.sqlite.pragma("busy_timeout = 5000");
    if (options.cacheMb) this.sqlite.pragma(`cache_size = -${Math.round(options.cacheMb * 1024)}`);
    this.sqlite.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      owner TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,
      PRIMARY KEY (owner, version))`);
  }

  /** Current schema version of an owner (0 when it has none). */
  version(owner: string): number {
    const row = this.sqlite.prepare("SELECT MAX(version) AS v FROM schema_migrations WHERE owner = ?").get(owner) as { v: number | null };
    return row.v ?? 0;
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
