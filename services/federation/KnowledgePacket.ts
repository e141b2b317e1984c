import { createHash, type KeyObject } from "node:crypto";
import { canonicalJson } from "../../core/canonicalJson.js";
import { signValue, verifyValue } from "./signing.js";

/** The kinds of knowledge nodes exchange. Anything else is dropped and counted as an unknown type. */
export const PACKET_TYPES = ["memory", "summary", "model-announcement", "backup-chunk"] as const;
export type PacketType = (typeof PACKET_TYPES)[number];

export interface PacketContent {
  type: PacketType;
  /** Node id of the author, whose key signs the packet. */
  author: string;
  /** Position in the author's log: strictly increasing per author. */
  seq: number;
  /** Milliseconds since the epoch, as the author's clock saw it (used by the conflict rule). */
  createdAt: number;
  /** Ids of packets that must be applied before this one. */
  deps: string[];
  /** For a packet meant for one peer only (a backup chunk encrypted to it). */
  to?: string;
  body: unknown;
}

/**
 * A content-addressed, signed unit of knowledge. `id` is the sha256 of the
 * canonical content, so the same content always has the same id and applying
 * it twice is a no-op; the signature covers the id, hence the whole content.
 */
export interface KnowledgePacket {
  id: string;
  content: PacketContent;
  sig: string;
}

export type PacketRejection = "malformed" | "unknown-type" | "tampered" | "unknown-signer" | "bad-signature";

/** The content's id; a received packet's content is hashed as received (every field counts), before it is trusted as a PacketContent. */
export function packetId(content: PacketContent | Readonly<Record<string, unknown>>): string {
  return createHash("sha256").update(canonicalJson(content), "utf8").digest("hex");
}

export function createPacket(key: KeyObject, content: PacketContent): KnowledgePacket {
  const id = packetId(content);
  return { id, content, sig: signValue(key, "packet", id) };
}

const typeSet = new Set<string>(PACKET_TYPES);
const HEX64 = /^[0-9a-f]{64}$/;

export function verifyPacket(p: unknown, authorKey: (nodeId: string) => string | undefined): { ok: true; packet: KnowledgePacket } | { ok: false; reason: PacketRejection } {
  if (typeof p !== "object" || p === null) return { ok: false, reason: "malformed" };
  const { id, content, sig } = p as Record<string, unknown>;
  if (typeof id !== "string" || !HEX64.test(id) || typeof sig !== "string" || typeof content !== "object" || content === null) return { ok: false, reason: "malformed" };
  const c = content as Record<string, unknown>;
  if (typeof c.author !== "string" || !Number.isSafeInteger(c.seq) || (c.seq as number) < 1 || !Number.isSafeInteger(c.createdAt)) return { ok: false, reason: "malformed" };
  if (!Array.isArray(c.deps) || !c.deps.every((d) => typeof d === "string" && HEX64.test(d)) || (c.to !== undefined && typeof c.to !== "string") || !("body" in c)) {
    return { ok: false, reason: "malformed" };
  }
  if (typeof c.type !== "string" || !typeSet.has(c.type)) return { ok: false, reason: "unknown-type" };
  let recomputed: string;
  try {
    recomputed = packetId(c);
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (recomputed !== id) return { ok: false, reason: "tampered" };
  const key = authorKey(c.author);
  if (key === undefined) return { ok: false, reason: "unknown-signer" };
  if (!verifyValue(key, "packet", id, sig)) return { ok: false, reason: "bad-signature" };
  return { ok: true, packet: p as KnowledgePacket };
}
