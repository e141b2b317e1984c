import type { Tier } from "./trust.js";

export const DROP_REASONS = [
  "oversized", "malformed", "unknown-type", "unknown-kind", "tampered", "bad-signature", "wrong-key", "unknown-signer",
  "expired", "not-yet-valid", "replay", "rollback", "stale", "misaddressed", "tier", "internal",
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** What `app.federation.stats()` returns, for the metrics service and the Peers page. */
export interface FederationStatsSnapshot {
  enabled: boolean;
  connected: boolean;
  broker: { mode: string; url: string | null };
  nodeId: string;
  packetsIn: number;
  packetsOut: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  applied: number;
  quarantined: number;
  duplicates: number;
  drops: Record<DropReason, number>;
  peersByTier: Record<Tier, number>;
  peersOnline: number;
  logHead: number;
  stored: { main: number; quarantine: number; pending: number };
  offload: { served: number; requested: number; fallbacks: number; failures: number };
}

export class FederationCounters {
  packetsIn = 0;
  packetsOut = 0;
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  applied = 0;
  quarantined = 0;
  duplicates = 0;
  drops = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  offload = { served: 0, requested: 0, fallbacks: 0, failures: 0 };
}
