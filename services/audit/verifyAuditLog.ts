import type BetterSqlite3 from "better-sqlite3";
import { existsSync, readFileSync } from "node:fs";
import { verify } from "../../core/ed25519.js";
import type { AuditCheckpoint } from "./AuditLog.js";
import { checkpointMessage, GENESIS_HASH, hashEvent } from "./auditHash.js";

export interface AuditVerifyReport {
  ok: boolean;
  /** Events read from the table. */
  events: number;
  /** Index of the newest event (0 when empty). */
  lastIndex: number;
  /** The first index that cannot be trusted, or null when the whole log verifies. */
  firstBadIndex: number | null;
  /** Why that index is bad, in words. */
  reason: string | null;
  checkpoints: {
    total: number;
    valid: number;
    /** Checkpoints whose signature does not verify with the node's key (forged or damaged). */
    invalid: number;
    /** The newest validly signed checkpoint's index, from the table or the mirror file. */
    latestIndex: number | null;
  };
}

export interface VerifyOptions {
  /** The node's ed25519 public key; checkpoints signed by anything else are ignored and counted invalid. */
  publicKey: Uint8Array;
  /** The checkpoint mirror file (<dataDir>/audit/checkpoint.json), read when present. */
  mirrorPath?: string;
  /** Checkpoints held elsewhere (peers), checked like local ones. */
  extraCheckpoints?: AuditCheckpoint[];
}

type Row = [number, string, string, string | null, string | null, string, string, string];

/**
 * Walks the whole chain once: a gap names the deleted index, a broken link or a
 * wrong hash names the changed or moved event, a chain that disagrees with a
 * signed checkpoint names the first index after the last checkpoint that
 * agrees, and a chain shorter than a signed checkpoint names the first missing index.
 */
export function verifyAuditLog(db: BetterSqlite3.Database, options: VerifyOptions): AuditVerifyReport {
  const stored = db.prepare("SELECT seq, hash, ts, node_id AS nodeId, signature, reason FROM audit_checkpoints ORDER BY id").all() as AuditCheckpoint[];
  const candidates = [...stored, ...(options.extraCheckpoints ?? [])];
  const mirror = readMirror(options.mirrorPath);
  if (mirror) candidates.push(mirror);
  const valid = candidates.filter((c) => checkpointValid(c, options.publicKey));
  const invalid = candidates.length - valid.length;
  // Every index a valid checkpoint vouches for, with the hash it vouches.
  const vouched = new Map<number, string>();
  for (const c of valid) vouched.set(c.seq, c.hash);
  const latest = valid.reduce<number | null>((m, c) => (m === null || c.seq > m ? c.seq : m), null);

  let firstBad: number | null = null;
  let reason: string | null = null;
  let expected = 1;
  let prev = GENESIS_HASH;
  let lastAgreed = 0;
  let events = 0;
  if (vouched.has(0) && vouched.get(0) !== GENESIS_HASH) {
    firstBad = 1;
    reason = "a signed checkpoint of the empty log has a wrong hash";
  }
  const rows = db.prepare("SELECT seq, ts, type, actor, subject, details, prev_hash, hash FROM audit_events ORDER BY seq").raw().iterate() as IterableIterator<Row>;
  for (const [seq, ts, type, actor, subject, details, prevHash, hash] of rows) {
    events++;
    if (firstBad !== null) continue;
    if (seq !== expected) {
      firstBad = expected;
      reason = seq > expected ? `event ${expected} is missing (deleted); the next stored event is ${seq}` : `event ${seq} is out of order`;
      continue;
    }
    if (prevHash !== prev) {
      firstBad = seq;
      reason = `event ${seq} does not link to event ${seq - 1} (changed, inserted or reordered)`;
      continue;
    }
    if (hashEvent({ seq, ts, type, actor, subject, details, prevHash }) !== hash) {
      firstBad = seq;
      reason = `event ${seq} was changed after it was written (its hash does not match its content)`;
      continue;
    }
    const signed = vouched.get(seq);
    if (signed !== undefined) {
      if (signed !== hash) {
        firstBad = lastAgreed + 1;
        reason = `events ${lastAgreed + 1}..${seq} were rewritten: the chain disagrees with the signed checkpoint at ${seq}`;
        continue;
      }
      lastAgreed = seq;
    }
    prev = hash;
    expected = seq + 1;
  }
  const lastIndex = (db.prepare("SELECT MAX(seq) AS m FROM audit_events").get() as { m: number | null }).m ?? 0;
  if (firstBad === null && latest !== null && latest > lastIndex) {
    firstBad = lastIndex + 1;
    reason = `the log ends at event ${lastIndex} but a signed checkpoint covers event ${latest} (truncated)`;
  }
  return {
    ok: firstBad === null,
    events,
    lastIndex,
    firstBadIndex: firstBad,
    reason,
    checkpoints: { total: candidates.length, valid: valid.length, invalid, latestIndex: latest },
  };
}

function checkpointValid(c: AuditCheckpoint, publicKey: Uint8Array): boolean {
  if (typeof c.signature !== "string" || typeof c.hash !== "string" || !Number.isInteger(c.seq)) return false;
  return verify(new Uint8Array(Buffer.from(c.signature, "base64")), checkpointMessage(c), publicKey);
}

function readMirror(path: string | undefined): AuditCheckpoint | undefined {
  if (!path || !existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as AuditCheckpoint;
  } catch {
    return undefined;
  }
}
