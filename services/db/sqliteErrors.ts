import { SovereignError } from "../../core/errors/SovereignError.js";

/** SQLite result codes (extended ones included) that mean the disk or its quota is full. */
const FULL_CODES = new Set(["SQLITE_FULL", "SQLITE_IOERR_WRITE", "SQLITE_IOERR_SHMSIZE", "SQLITE_IOERR_TRUNCATE"]);
const CORRUPT_CODES = new Set(["SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CORRUPT_VTAB", "SQLITE_CORRUPT_INDEX", "SQLITE_CORRUPT_SEQUENCE"]);

export function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_") ? code : undefined;
}

export function isDiskFull(err: unknown): boolean {
  const code = sqliteCode(err);
  return code !== undefined && FULL_CODES.has(code);
}

export function isCorrupt(err: unknown): boolean {
  const code = sqliteCode(err);
  return code !== undefined && CORRUPT_CODES.has(code);
}

/**
 * Turns a SQLite failure that a user can act on into a catalog error; anything
 * else is returned unchanged (a bug, reported as INTERNAL). SQLite has already
 * rolled the failed transaction back, so nothing committed is lost.
 */
export function toDbError(err: unknown, what = "write"): unknown {
  if (err instanceof SovereignError) return err;
  if (isDiskFull(err)) {
    return new SovereignError("DISK_FULL", `The disk is full: the ${what} was refused and rolled back; nothing committed was lost.`, {
      details: { sqlite: sqliteCode(err) },
      cause: err,
    });
  }
  return err;
}

/** Runs a database operation, mapping disk-full failures to DISK_FULL. */
export function guardDb<T>(fn: () => T, what?: string): T {
  try {
    return fn();
  } catch (err) {
    throw toDbError(err, what);
  }
}
