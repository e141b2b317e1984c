/**
 * Trust tiers and what each may do, in one table so it can be read, tested
 * and documented at once. Every inbound message passes `inboundDecision`
 * before anything in it is used; everything we send passes `mayReceive`.
 *
 * - core: bidirectional sync, backups, inference offload, queries, update bundle offers (and the bundle over HTTP).
 * - sandbox: one-way: its packets land in the quarantine scope; we send it nothing
 *   (beyond the public retained manifest every broker client can read).
 * - external: query-only: it may ask for our public status and we answer; no packets either way.
 * - unknown: nothing until an admin approves it by fingerprint; only its manifest is kept, to show for pairing.
 */
export const TIERS = ["core", "sandbox", "external", "unknown"] as const;
export type Tier = (typeof TIERS)[number];

export const MESSAGE_KINDS = [
  "manifest", "packet", "sync-req", "sync-batch", "query", "query-reply", "offload-req", "offload-chunk", "offload-cancel", "update-offer",
] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export type InboundDecision = "accept" | "quarantine" | "drop";

const A = "accept", Q = "quarantine", D = "drop";

/** Rows: sender's tier; columns: message kind. */
export const INBOUND_MATRIX: Record<Tier, Record<MessageKind, InboundDecision>> = {
  core: { manifest: A, packet: A, "sync-req": A, "sync-batch": A, query: A, "query-reply": A, "offload-req": A, "offload-chunk": A, "offload-cancel": A, "update-offer": A },
  sandbox: { manifest: A, packet: Q, "sync-req": D, "sync-batch": Q, query: D, "query-reply": D, "offload-req": D, "offload-chunk": D, "offload-cancel": D, "update-offer": D },
  external: { manifest: A, packet: D, "sync-req": D, "sync-batch": D, query: A, "query-reply": A, "offload-req": D, "offload-chunk": D, "offload-cancel": D, "update-offer": D },
  unknown: { manifest: A, packet: D, "sync-req": D, "sync-batch": D, query: D, "query-reply": D, "offload-req": D, "offload-chunk": D, "offload-cancel": D, "update-offer": D },
};

export function inboundDecision(tier: Tier, kind: MessageKind): InboundDecision {
  return INBOUND_MATRIX[tier][kind];
}

export type Outbound = "packets" | "backup" | "offload" | "query" | "query-reply" | "update";

const OUTBOUND: Record<Tier, ReadonlySet<Outbound>> = {
  core: new Set<Outbound>(["packets", "backup", "offload", "query", "query-reply", "update"]),
  sandbox: new Set<Outbound>(),
  external: new Set<Outbound>(["query", "query-reply"]),
  unknown: new Set<Outbound>(),
};

/** Whether a peer of this tier may be sent this kind of thing by us. */
export function mayReceive(tier: Tier, what: Outbound): boolean {
  return OUTBOUND[tier].has(what);
}

export function isTier(value: unknown): value is Tier {
  return typeof value === "string" && (TIERS as readonly string[]).includes(value);
}

export function isMessageKind(value: unknown): value is MessageKind {
  return typeof value === "string" && (MESSAGE_KINDS as readonly string[]).includes(value);
}
