import type { KeyObject } from "node:crypto";
import type { FederationCounters } from "./FederationStats.js";
import type { FederationStore } from "./FederationStore.js";
import { createPacket, verifyPacket, type KnowledgePacket, type PacketType } from "./KnowledgePacket.js";
import { packetMessage, sealMessage } from "./messages.js";
import type { Tier } from "./trust.js";

export interface NewPacket {
  type: PacketType;
  body: unknown;
  deps?: string[];
  /** Only this peer receives it (a backup chunk sealed to its key). */
  to?: string;
}

export interface AppliedPacket {
  packet: KnowledgePacket;
  scope: "main" | "quarantine";
  /** For keyed knowledge: whether this packet won the conflict rule and is now the item's value. */
  current: boolean;
}

export type ApplyOutcome = "applied" | "pending" | "duplicate";

export interface SyncEngineOptions {
  store: FederationStore;
  nodeId: string;
  key: KeyObject;
  counters: FederationCounters;
  batchSize: number;
  maxPayloadBytes: number;
  /** Peers we push our packets to (core peers). */
  pushTargets: () => string[];
  send: (peer: string, payload: string) => boolean;
  onApplied: (applied: AppliedPacket) => void;
}

/**
 * Offline-first knowledge sync.
 *
 * Our own packets go into `fed_log` (the SQLite outbox) before anything is
 * sent, then are pushed to each core peer with `prev`, the previous log entry
 * meant for that peer. A receiver advances its per-peer cursor only over an
 * unbroken chain; a gap, a reconnect, a peer coming back online or a manifest
 * whose `logHead` is ahead of the cursor makes it ask for a delta
 * (`sync-req {since: cursor}`), answered from the log in signed batches. So a
 * broker outage or a restart on either side loses nothing, and whatever
 * arrives twice is a no-op: packets are stored by content id once.
 *
 * Conflict rule: packets are immutable, so two packets never conflict by id.
 * Keyed knowledge (a body with a string `key`: a memory or summary that is
 * updated) resolves per scope to the packet with the greatest
 * (createdAt, author node id, packet id), compared in that order: the latest
 * write wins, ties broken deterministically, so every node converges on the
 * same value whatever order packets arrived in.
 */
export class SyncEngine {
  private readonly lastEligible = new Map<string, number>();
  private readonly recv = new Map<string, number>();
  private readonly inflight = new Map<string, number>();
  /** Whether any packet waits for dependencies (checked in SQLite only then, not after every apply). */
  private hasPending: boolean;

  constructor(private readonly o: SyncEngineOptions) {
    this.hasPending = o.store.packetCounts().pending > 0;
  }

  /** Appends packets to our log (durably, in one transaction) and pushes them to core peers now connected. */
  publish(items: NewPacket[], now = Date.now()): KnowledgePacket[] {
    const { store, nodeId, key } = this.o;
    const rows = store.appendLog(
      items.map((it) => (seq: number) => ({
        packet: createPacket(key, { type: it.type, author: nodeId, seq, createdAt: now, deps: it.deps ?? [], ...(it.to ? { to: it.to } : {}), body: it.body ?? null }),
        recipient: it.to ?? null,
      })),
      now,
    );
    const targets = this.o.pushTargets();
    for (const row of rows) {
      for (const peer of targets) {
        if (row.recipient !== null && row.recipient !== peer) continue;
        const prev = this.lastEligible.get(peer) ?? store.logPrev(row.seq, peer);
        this.lastEligible.set(peer, row.seq);
        if (this.o.send(peer, packetMessage(nodeId, peer, prev, row.text))) this.o.counters.packetsOut++;
      }
    }
    return rows.map((r) => r.packet);
  }

  /** Forget cached chains (after a tier change or restart of the link). */
  resetPeer(peer: string): void {
    this.lastEligible.delete(peer);
    this.recv.delete(peer);
    this.inflight.delete(peer);
  }

  recvCursor(peer: string): number {
    let c = this.recv.get(peer);
    if (c === undefined) {
      c = this.o.store.cursor(peer).recv;
      this.recv.set(peer, c);
    }
    return c;
  }

  private advance(peer: string, seq: number): void {
    if (seq <= this.recvCursor(peer)) return;
    this.recv.set(peer, seq);
    this.o.store.setRecv(peer, seq);
  }

  /** Asks a peer for what we lack of its log; at most one request in flight per peer (5 s). */
  requestSync(peer: string, now = Date.now()): void {
    const since = this.inflight.get(peer);
    if (since !== undefined && now - since < 5000) return;
    this.inflight.set(peer, now);
    this.o.send(peer, sealMessage(this.o.key, "sync-req", this.o.nodeId, peer, { since: this.recvCursor(peer) }, now));
  }

  /** A pushed packet from its author. Returns the drop reason, or null when it was taken. */
  onPacket(from: string, authorKey: string, scope: "main" | "quarantine", prev: unknown, raw: unknown, now = Date.now()): string | null {
    const v = verifyPacket(raw, (id) => (id === from ? authorKey : undefined));
    if (!v.ok) return v.reason;
    this.o.counters.packetsIn++;
    this.apply(v.packet, scope, now);
    const seq = v.packet.content.seq;
    const cursor = this.recvCursor(from);
    if (typeof prev === "number" && prev <= cursor && seq > cursor) this.advance(from, seq);
    else if (seq > cursor) this.requestSync(from, now);
    return null;
  }

  /** A peer asks for our log after `since`: reply with one signed batch (bounded in count and bytes). */
  onSyncRequest(peer: string, body: unknown, now = Date.now()): string | null {
    const since = (body as { since?: unknown } | null)?.since;
    if (typeof since !== "number" || !Number.isSafeInteger(since) || since < 0) return "malformed";
    this.o.store.setAcked(peer, since);
    const budget = this.o.maxPayloadBytes - 2048;
    const rows = this.o.store.logSince(since, this.o.batchSize * 4);
    const packets: unknown[] = [];
    let bytes = 0;
    let upTo = since;
    let more = rows.length === this.o.batchSize * 4;
    for (const row of rows) {
      if (row.recipient !== null && row.recipient !== peer) {
        upTo = row.seq;
        continue;
      }
      if (packets.length >= this.o.batchSize || (packets.length > 0 && bytes + row.packet.length > budget)) {
        more = true;
        break;
      }
      packets.push(JSON.parse(row.packet));
      bytes += row.packet.length + 1;
      upTo = row.seq;
    }
    if (this.o.send(peer, sealMessage(this.o.key, "sync-batch", this.o.nodeId, peer, { since, upTo, more, packets }, now))) {
      this.o.counters.packetsOut += packets.length;
    }
    return null;
  }

  /** A batch answering our request: apply every packet, then move the cursor if the batch continues from it. */
  onSyncBatch(peer: string, authorKey: string, scope: "main" | "quarantine", body: unknown, now = Date.now()): string | null {
    const b = body as { since?: unknown; upTo?: unknown; more?: unknown; packets?: unknown } | null;
    if (!b || typeof b.since !== "number" || typeof b.upTo !== "number" || !Array.isArray(b.packets) || b.upTo < b.since) return "malformed";
    this.inflight.delete(peer);
    let bad: string | null = null;
    for (const raw of b.packets) {
      const v = verifyPacket(raw, (id) => (id === peer ? authorKey : undefined));
      if (!v.ok) {
        bad = v.reason;
        continue;
      }
      this.o.counters.packetsIn++;
      this.apply(v.packet, scope, now);
    }
    // A batch with a bad packet does not move the cursor: the next sync asks again.
    if (bad) return bad;
    if (b.since <= this.recvCursor(peer)) this.advance(peer, b.upTo);
    if (b.more === true) this.requestSync(peer, now);
    return null;
  }

  /** Stores a verified packet once; applies it now if its dependencies are there, else parks it. */
  apply(p: KnowledgePacket, scope: "main" | "quarantine", now: number): ApplyOutcome {
    const { store, counters } = this.o;
    const ready = p.content.deps.every((d) => store.isApplied(d));
    if (!store.insertPacket(p, scope, !ready, now)) {
      counters.duplicates++;
      return "duplicate";
    }
    if (!ready) {
      this.hasPending = true;
      return "pending";
    }
    this.effect(p, scope);
    if (this.hasPending) this.resolvePending();
    return "applied";
  }

  private effect(p: KnowledgePacket, scope: "main" | "quarantine"): void {
    const { store, counters } = this.o;
    if (scope === "quarantine") counters.quarantined++;
    else counters.applied++;
    let current = true;
    const itemKey = (p.content.body as { key?: unknown } | null)?.key;
    if ((p.content.type === "memory" || p.content.type === "summary") && typeof itemKey === "string") {
      const key = `${p.content.type}:${itemKey}`;
      const cur = store.item(scope, key);
      current = !cur || compareVersions([p.content.createdAt, p.content.author, p.id], [cur.createdAt, cur.author, cur.packetId]) > 0;
      if (current) store.setItem(scope, key, p.id, p.content.createdAt, p.content.author);
    }
    this.o.onApplied({ packet: p, scope, current });
  }

  /** Applies parked packets whose dependencies have all arrived, until nothing more moves. */
  private resolvePending(): void {
    const { store } = this.o;
    for (let progress = true; progress; ) {
      progress = false;
      const rows = store.pending();
      if (rows.length === 0) this.hasPending = false;
      for (const row of rows) {
        const deps = JSON.parse(row.deps) as string[];
        if (!deps.every((d) => store.isApplied(d))) continue;
        store.markResolved(row.id);
        progress = true;
        const packet = { id: row.id, content: { type: row.type as PacketType, author: row.author, seq: 0, createdAt: row.createdAt, deps, body: JSON.parse(row.body) as unknown }, sig: "" };
        this.effect(packet, row.scope);
      }
    }
  }

  /** Whether pushing to this tier is allowed (core only); kept here so sync and trust read together. */
  static pushes(tier: Tier): boolean {
    return tier === "core";
  }
}

/** Orders (createdAt, author, id) tuples: the conflict rule's "later". */
export function compareVersions(a: [number, string, string], b: [number, string, string]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;
}
