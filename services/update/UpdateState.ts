import { chownSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Slot } from "../../core/bootSelection.js";

export type SlotCondition = "unknown" | "good" | "written" | "trial" | "bad" | "incomplete";

export interface SlotRecord {
  version: string | null;
  condition: SlotCondition;
  since: string | null;
}

export interface PendingUpdate {
  slot: Slot;
  version: string;
  writtenAt: string;
  /** When "restart into the update" was asked for (null until then). */
  restartRequestedAt: string | null;
  /** The boot id when the restart was asked for: a later boot id means the machine did restart. */
  restartBootId?: string;
}

export interface UpdateResult {
  at: string;
  outcome: "applied" | "refused" | "failed" | "committed" | "rolled-back";
  version: string | null;
  code: string | null;
  message: string;
}

/** What the old version found and did with the database when it came back after a rollback (from the db service). */
export interface DataRollbackNote {
  restoredSnapshot: string | null;
  keptAside: string | null;
  notCarriedBack: { table: string; rows: number }[];
  summary: string;
}

export interface RollbackReport {
  at: string;
  failedVersion: string;
  failedSlot: Slot;
  reason: string;
  data: DataRollbackNote | null;
}

export interface UpdateStateFile {
  schema: 1;
  slots: Record<Slot, SlotRecord>;
  pending: PendingUpdate | null;
  /** A slot booted for its trial, waiting for mark-good. */
  trial: { slot: Slot; version: string; since: string; unhealthy?: { at: string; why: string } } | null;
  lastResult: UpdateResult | null;
  rollback: RollbackReport | null;
  /** Running totals for /metrics, kept here so that CLI applies and rollbacks seen at boot count too. */
  counters: { attempts: number; results: Record<string, number>; rollbacks: number };
}

export function emptyState(): UpdateStateFile {
  const slot = (): SlotRecord => ({ version: null, condition: "unknown", since: null });
  return { schema: 1, slots: { a: slot(), b: slot() }, pending: null, trial: null, lastResult: null, rollback: null, counters: { attempts: 0, results: {}, rollbacks: 0 } };
}

/** Reads the state file; a missing or unreadable one starts empty (the slots' contents are then "unknown"). */
export function readState(path: string): UpdateStateFile {
  if (!existsSync(path)) return emptyState();
  try {
    const v = JSON.parse(readFileSync(path, "utf8")) as UpdateStateFile;
    if (v.schema !== 1 || typeof v.slots !== "object") return emptyState();
    return { ...emptyState(), ...v };
  } catch {
    return emptyState();
  }
}

/**
 * Root runs the CLI on the device (it writes the slot devices); the node runs
 * as its service user. Whatever root creates under update/ is given to the
 * owner of the data dir, so the node can still read and replace it.
 */
export function ownLikeDataDir(path: string, dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  try {
    const st = statSync(dataDir);
    if (st.uid !== 0 || st.gid !== 0) chownSync(path, st.uid, st.gid);
  } catch {
    // No data dir yet: nothing to match.
  }
}

/** Writes the state atomically: temp file, fsync, rename, so a power cut leaves the old or the new state, never half. */
export function writeState(path: string, state: UpdateStateFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  // state.json lives in <dataDir>/update/.
  const dataDir = dirname(dirname(path));
  ownLikeDataDir(dirname(path), dataDir);
  ownLikeDataDir(tmp, dataDir);
  const fd = openSync(tmp, "r");
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}
