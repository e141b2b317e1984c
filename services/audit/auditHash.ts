import { createHash } from "node:crypto";

/** The `prev_hash` of the first event. */
export const GENESIS_HASH = "0".repeat(64);

/** The stored fields of one event that its hash covers (everything but the hash itself). */
export interface HashedFields {
  seq: number;
  ts: string;
  type: string;
  actor: string | null;
  subject: string | null;
  /** The stored JSON text, hashed as stored so no canonical form is needed. */
  details: string;
  prevHash: string;
}

/** SHA-256 (hex) over a JSON array of the fields: unambiguous, and the sequence number is covered so reordering shows. */
export function hashEvent(e: HashedFields): string {
  return createHash("sha256")
    .update(JSON.stringify(["sovereign-audit-v1", e.seq, e.ts, e.type, e.actor, e.subject, e.details, e.prevHash]))
    .digest("hex");
}

/** What a checkpoint signature covers: the node, the last event's index and its hash, and the time. */
export function checkpointMessage(c: { nodeId: string; seq: number; hash: string; ts: string }): Uint8Array {
  return new TextEncoder().encode(`sovereign-audit-checkpoint-v1\n${c.nodeId}\n${c.seq}\n${c.hash}\n${c.ts}`);
}
