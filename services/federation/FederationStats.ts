import { TIERS, type Tier } from "./trust.js";

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
  /** Memory and summary packets to and from app.memory (stale: lost the conflict rule; rejected: not a memory). */
  knowledge: { applied: number; quarantined: number; stale: number; rejected: number; published: number; tooLarge: number };
  /** Backup mirrors: sent by us, chunks stored for peers, chunks refused. */
  mirrors: { sent: number; chunksStored: number; chunksRefused: number };
  /** Update bundles served to core peers over HTTP: range requests answered, bytes sent, requests refused. */
  bundles: { requests: number; bytesServed: number; refused: number };
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
  knowledge = { applied: 0, quarantined: 0, stale: 0, rejected: 0, published: 0, tooLarge: 0 };
  mirrors = { sent: 0, chunksStored: 0, chunksRefused: 0 };
  bundles = { requests: 0, bytesServed: 0, refused: 0 };

  /** The counters with the service's state around them, as `stats()` returns it. */
  snapshot(state: Pick<FederationStatsSnapshot, "enabled" | "connected" | "broker" | "nodeId" | "logHead" | "stored"> & { peers: Array<{ tier: Tier; online: boolean }> }): FederationStatsSnapshot {
    const byTier = Object.fromEntries(TIERS.map((t) => [t, 0])) as Record<Tier, number>;
    let online = 0;
    for (const p of state.peers) {
      byTier[p.tier]++;
      if (p.online) online++;
    }
    const { peers: _peers, ...rest } = state;
    return {
      ...rest, packetsIn: this.packetsIn, packetsOut: this.packetsOut, messagesIn: this.messagesIn, messagesOut: this.messagesOut,
      bytesIn: this.bytesIn, bytesOut: this.bytesOut, applied: this.applied, quarantined: this.quarantined, duplicates: this.duplicates,
      drops: { ...this.drops }, peersByTier: byTier, peersOnline: online, offload: { ...this.offload }, knowledge: { ...this.knowledge }, mirrors: { ...this.mirrors }, bundles: { ...this.bundles },
    };
  }
}
