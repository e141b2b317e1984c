import BetterSqlite3 from "better-sqlite3";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { compareVersions } from "../../core/compareVersions.js";
import type { Database } from "./Database.js";
import { writePrivateJson } from "../../core/fs/writePrivateFile.js";

/**
 * Data across versions. The version that last ran against the database is
 * kept in db-snapshots/marker.json (with each owner's schema version). When a
 * newer version starts, the file is copied (SQLite's online backup) before any
 * service migrates it: snapshot-<from>-to-<to>.sqlite. When an older version
 * starts again (a rollback) and the newer one had migrated the schema, the
 * snapshot is put back, the newer file is kept aside under a name, and the
 * report says which tables had rows the restored file does not have.
 */
export type SchemaMap = Record<string, number>;

export interface VersionMarker {
  softwareVersion: string;
  schema: SchemaMap;
  at: string;
}

export interface SnapshotMeta {
  file: string;
  fromVersion: string;
  fromSchema: SchemaMap;
  toVersion: string;
  /** Filled in once the newer version has migrated (null until then). */
  toSchema: SchemaMap | null;
  takenAt: string;
}

export interface VersionChangeReport {
  kind: "first-run" | "same-version" | "snapshot-taken" | "restored" | "older-compatible" | "older-no-snapshot";
  fromVersion: string | null;
  toVersion: string;
  snapshot: string | null;
  keptAside: string | null;
  /** Rows the kept-aside (newer) file has beyond the restored one, per table: data written after the update that was not carried back. */
  notCarriedBack: { table: string; rows: number }[];
  summary: string;
  at: string;
}

/** Where the audit service mirrors its latest signed checkpoint (services/audit: auditMirrorPath). */
const auditMirror = (dataDir: string): string => join(dataDir, "audit", "checkpoint.json");

export function snapshotDirOf(dataDir: string): string {
  return join(dataDir, "db-snapshots");
}

export function schemaMapOf(sqlite: BetterSqlite3.Database): SchemaMap {
  const has = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!has) return {};
  const rows = sqlite.prepare("SELECT owner, MAX(version) AS v FROM schema_migrations GROUP BY owner ORDER BY owner").all() as { owner: string; v: number }[];
  return Object.fromEntries(rows.map((r) => [r.owner, r.v]));
}

const sameSchema = (a: SchemaMap, b: SchemaMap): boolean => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
const safe = (v: string): string => v.replace(/[^A-Za-z0-9._-]/g, "_");
const readJson = <T>(p: string): T | null => {
  try {
    return JSON.parse(readFileSync(p, "utf8")) as T;
  } catch {
    return null;
  }
};

function rowCounts(path: string): Map<string, number> {
  const db = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'").all() as { name: string }[];
    const out = new Map<string, number>();
    for (const { name } of tables) {
      try {
        out.set(name, (db.prepare(`SELECT COUNT(*) AS n FROM "${name.replace(/"/g, '""')}"`).get() as { n: number }).n);
      } catch {
        // A virtual table whose module this build lacks: not countable, not listed.
      }
    }
    return out;
  } finally {
    db.close();
  }
}

/** Tables whose newer file holds more rows than the restored one (a lower bound: a row deleted and another added cancel out). */
export function rowsNotCarriedBack(newer: string, restored: string): { table: string; rows: number }[] {
  const a = rowCounts(newer);
  const b = rowCounts(restored);
  return [...a].map(([table, n]) => ({ table, rows: n - (b.get(table) ?? 0) })).filter((r) => r.rows > 0 && !/_(data|idx|docsize|config|content)$/.test(r.table)).sort((x, y) => x.table.localeCompare(y.table));
}

function findSnapshot(dir: string, from: string, to: string): SnapshotMeta | null {
  if (!existsSync(dir)) return null;
  const metas = readdirSync(dir).filter((f) => f.endsWith(".json") && f.startsWith("snapshot-")).map((f) => readJson<SnapshotMeta>(join(dir, f))).filter((m): m is SnapshotMeta => m !== null);
  return metas.filter((m) => m.fromVersion === from && m.toVersion === to).sort((x, y) => y.takenAt.localeCompare(x.takenAt))[0] ?? null;
}

/**
 * Runs when the database is open and before any service migrates it.
 * `reopen` closes nothing; it opens the file again after a restore.
 */
export async function onVersionChange(db: Database, dataDir: string, running: string, reopen: () => Database): Promise<{ db: Database; report: VersionChangeReport }> {
  const dir = snapshotDirOf(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const marker = readJson<VersionMarker>(join(dir, "marker.json"));
  const at = new Date().toISOString();
  const base = { toVersion: running, snapshot: null, keptAside: null, notCarriedBack: [], at };
  if (!marker) return { db, report: { ...base, kind: "first-run", fromVersion: null, summary: "no earlier version recorded" } };
  const from = marker.softwareVersion;
  if (from === running) return { db, report: { ...base, kind: "same-version", fromVersion: from, summary: `same version ${running}` } };

  if (compareVersions(running, from) > 0) {
    const name = `snapshot-${safe(from)}-to-${safe(running)}`;
    const file = join(dir, `${name}.sqlite`);
    rmSync(file, { force: true });
    await db.sqlite.backup(file);
    // The audit log's signed checkpoint is mirrored outside the file; it must travel with the snapshot,
    // or a restored log would look truncated against a mirror the newer version moved on.
    if (existsSync(auditMirror(dataDir))) copyFileSync(auditMirror(dataDir), `${file}.audit-checkpoint.json`);
    const meta: SnapshotMeta = { file, fromVersion: from, fromSchema: schemaMapOf(db.sqlite), toVersion: running, toSchema: null, takenAt: at };
    writePrivateJson(join(dir, `${name}.json`), meta);
    return { db, report: { ...base, kind: "snapshot-taken", fromVersion: from, snapshot: file, summary: `snapshot of the ${from} database taken before ${running} migrates it` } };
  }

  // An older version: a rollback, or a downgrade an admin allowed.
  const snap = findSnapshot(dir, running, from);
  const current = schemaMapOf(db.sqlite);
  if (!snap) {
    return { db, report: { ...base, kind: "older-no-snapshot", fromVersion: from, summary: `no snapshot from ${running} to ${from}; the database was left as ${from} wrote it` } };
  }
  if (sameSchema(current, snap.fromSchema)) {
    return { db, report: { ...base, kind: "older-compatible", fromVersion: from, summary: `${from} did not change the schema; the database and everything written since the update were kept` } };
  }
  const path = db.path;
  db.checkpoint("TRUNCATE");
  db.close();
  const keptAside = join(dir, `kept-${safe(from)}-${at.replace(/[:.]/g, "")}.sqlite`);
  renameSync(path, keptAside);
  for (const ext of ["-wal", "-shm"]) if (existsSync(path + ext)) renameSync(path + ext, keptAside + ext);
  copyFileSync(snap.file, path);
  if (existsSync(`${snap.file}.audit-checkpoint.json`)) {
    if (existsSync(auditMirror(dataDir))) renameSync(auditMirror(dataDir), `${keptAside}.audit-checkpoint.json`);
    copyFileSync(`${snap.file}.audit-checkpoint.json`, auditMirror(dataDir));
  }
  const notCarriedBack = rowsNotCarriedBack(keptAside, path);
  const lost = notCarriedBack.map((r) => `${r.rows} in ${r.table}`).join(", ");
  const report: VersionChangeReport = {
    ...base, kind: "restored", fromVersion: from, snapshot: snap.file, keptAside, notCarriedBack,
    summary: `the database was restored from the snapshot taken before ${from} migrated it; the ${from} file is kept at ${keptAside}` + (lost ? `; rows written after the update and not carried back: ${lost}` : "; no rows were written after the update"),
  };
  writePrivateJson(join(dir, "last-restore.json"), report);
  return { db: reopen(), report };
}

/** Once every service has migrated: this version is the one the database is now at, and a fresh snapshot learns its target schema. */
export function recordVersion(db: Database, dataDir: string, running: string): void {
  const dir = snapshotDirOf(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const schema = schemaMapOf(db.sqlite);
  writePrivateJson(join(dir, "marker.json"), { softwareVersion: running, schema, at: new Date().toISOString() } satisfies VersionMarker);
  for (const f of readdirSync(dir).filter((x) => x.startsWith("snapshot-") && x.endsWith(".json"))) {
    const m = readJson<SnapshotMeta>(join(dir, f));
    if (m && m.toVersion === running && m.toSchema === null) writePrivateJson(join(dir, f), { ...m, toSchema: schema });
  }
}

/** The last restore after a rollback, for the update status (null when none happened). */
export function lastRestoreReport(dataDir: string): VersionChangeReport | null {
  return readJson<VersionChangeReport>(join(snapshotDirOf(dataDir), "last-restore.json"));
}
