import type { KeyObject } from "node:crypto";
import type { DropReason, FederationCounters } from "./FederationStats.js";
import type { FederationStore, PeerRow } from "./FederationStore.js";
import { verifyManifest, type Manifest, type SignedManifest } from "./Manifest.js";
import type { Offload } from "./Offload.js";
import type { SyncEngine } from "./SyncEngine.js";
import { peekSender, sealMessage, verifyMessage, type Envelope } from "./messages.js";
import type { Topics } from "./topics.js";
import { inboundDecision, isMessageKind, type Tier } from "./trust.js";
import type { Config } from "../../core/config/Config.js";
import { checkJsonTextDepth } from "../../core/json/jsonDepth.js";
import { cachedClockState, clockUntrusted, describeClock, type ClockState } from "../../hardware/clockState.js";

/** A peer's JSON, refused past the nesting limit before parsing: stored packets and canonical JSON never walk it deep. */
function parsePeerJson(payload: Buffer): unknown {
  const text = payload.toString("utf8");
  checkJsonTextDepth(text, "The message");
  return JSON.parse(text) as unknown;
}

/** What inbound handling needs from the service that owns the link and the peers. */
export interface InboundHost {
  readonly nodeId: string;
  readonly key: KeyObject;
  readonly config: Config;
  readonly store: FederationStore;
  readonly topics: Topics;
  readonly counters: FederationCounters;
  readonly sync: SyncEngine;
  readonly offload: Offload;
  readonly log: { warn: (obj: object, msg: string) => void; error: (obj: object, msg: string) => void; info: (obj: object, msg: string) => void };
  peer(nodeId: string): PeerRow | undefined;
  tierOf(nodeId: string): Tier;
  reloadPeers(force?: boolean): void;
  send(peer: string, payload: string): boolean;
  buildManifest(): Manifest;
  /** The clock's trust (defaults to the system's, re-read every 10 s): time checks tolerate a clock that may be behind. */
  clock?: () => ClockState;
  /** A core peer's signed offer of an update bundle (the update service decides); null or a drop reason. */
  updateOffer?: (from: string, body: unknown) => string | null;
}

/**
 * Everything that arrives from the broker. Messages are queued and handled
 * in batches of up to 256 in one transaction, each in its own savepoint, so
 * a bad message is dropped and counted (by reason, sender named in a
 * rate-limited warning) without stopping the others, and whatever a message
 * changes (packets, cursors, memories, mirrors) commits or rolls back with it.
 */
export class Inbound {
  private inbox: Array<{ topic: string; payload: Buffer }> = [];
  private draining = false;
  private readonly logGate = new Map<string, number>();
  private readonly presence = new Map<string, boolean>();

  private readonly clock: () => ClockState;

  constructor(private readonly h: InboundHost) {
    this.clock = h.clock ?? cachedClockState();
  }

  /**
   * A time check passed only because this node's clock is not trusted: said in the log (rate-limited per
   * sender and check), never silently, so an owner sees why peers' times look wrong.
   */
  private clockWarning(sender: string, check: string, clock: ClockState): void {
    const gate = `${sender}/clock/${check}`;
    const now = Date.now();
    if ((this.logGate.get(gate) ?? 0) > now) return;
    this.logGate.set(gate, now + 60_000);
    this.h.log.warn({ sender, check, clock: describeClock(clock) }, "federation: accepted a peer's time that is ahead of this node's clock, which is not synchronized yet");
  }

  enqueue(topic: string, payload: Buffer): void {
    this.inbox.push({ topic, payload });
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    const batch = this.inbox.splice(0, 256);
    const sqlite = this.h.store.sqlite;
    try {
      this.h.reloadPeers();
      sqlite.transaction(() => {
        for (const m of batch) {
          try {
            sqlite.transaction(() => this.handle(m.topic, m.payload))();
          } catch (err) {
            this.drop("internal", peekSender(m.payload), (err as Error).message);
          }
        }
      })();
    } catch (err) {
      this.h.log.error({ err: (err as Error).message }, "federation: inbound batch failed");
    }
    if (this.inbox.length > 0) setImmediate(() => this.drain());
    else this.draining = false;
  }

  private drop(reason: DropReason, sender: string | null, detail?: string): void {
    this.h.counters.drops[reason]++;
    const gate = `${sender}/${reason}`;
    const now = Date.now();
    if ((this.logGate.get(gate) ?? 0) > now) return;
    this.logGate.set(gate, now + 10_000);
    if (this.logGate.size > 1000) this.logGate.clear();
    this.h.log.warn({ sender: sender ?? "(unknown)", reason, ...(detail ? { detail } : {}) }, "federation: dropped an inbound message");
  }

  private handle(topic: string, payload: Buffer): void {
    const { counters, config, nodeId } = this.h;
    counters.messagesIn++;
    counters.bytesIn += payload.length;
    const t = this.h.topics.parse(topic);
    if (!t) return;
    if (payload.length > config["federation.maxPayloadBytes"]) return this.drop("oversized", t.leaf === "inbox" ? peekSender(payload) : t.nodeId, `${payload.length} bytes`);
    if (t.leaf === "presence") return this.onPresence(t.nodeId, payload);
    if (t.leaf === "manifest") return this.onManifest(t.nodeId, payload);
    if (t.nodeId !== nodeId) return;
    let env: Envelope & { packet?: unknown; prev?: unknown };
    try {
      env = parsePeerJson(payload) as Envelope & { packet?: unknown; prev?: unknown };
    } catch {
      return this.drop("malformed", peekSender(payload));
    }
    if (typeof env !== "object" || env === null || env.v !== 1 || typeof env.from !== "string") return this.drop("malformed", peekSender(payload));
    const from = env.from;
    if (!isMessageKind(env.kind)) return this.drop("unknown-kind", from, String(env.kind).slice(0, 32));
    if (env.to !== nodeId) return this.drop("misaddressed", from);
    const peer = this.h.peer(from);
    const tier = peer?.tier ?? "unknown";
    const decision = inboundDecision(tier, env.kind);
    if (decision === "drop" || !peer) return this.drop("tier", from, `${env.kind} from a ${tier} peer`);
    const scope = decision === "quarantine" ? "quarantine" : "main";
    let reason: string | null;
    if (env.kind === "packet") {
      reason = this.h.sync.onPacket(from, peer.publicKey, scope, env.prev, env.packet);
    } else {
      if (!verifyMessage(env, peer.publicKey)) return this.drop("bad-signature", from);
      const skew = config["federation.clockSkewSeconds"] * 1000;
      if (typeof env.ts !== "number") return this.drop("stale", from);
      const now = Date.now();
      if (now - env.ts > skew) return this.drop("stale", from);
      if (env.ts - now > skew) {
        // Ahead of this clock: what a slow, unsynchronized clock shows; anything else is refused.
        const clock = this.clock();
        if (!clockUntrusted(clock)) return this.drop("stale", from);
        this.clockWarning(from, "message timestamp", clock);
      }
      reason = this.dispatch(env, peer.publicKey, scope);
    }
    if (reason) this.drop(reason as DropReason, from);
  }

  private dispatch(env: Envelope, key: string, scope: "main" | "quarantine"): string | null {
    const { sync, offload } = this.h;
    switch (env.kind) {
      case "sync-req": return sync.onSyncRequest(env.from, env.body);
      case "sync-batch": return sync.onSyncBatch(env.from, key, scope, env.body);
      case "offload-req": return this.h.config["federation.offload.enabled"] ? offload.onRequest(env.from, env.body) : "tier";
      case "offload-chunk": return offload.onChunk(env.from, env.body);
      case "offload-cancel": return offload.onCancel(env.from, env.body);
      case "query": return this.onQuery(env.from, env.body);
      case "query-reply": return null;
      case "update-offer": return this.h.updateOffer ? this.h.updateOffer(env.from, env.body) : null;
      default: return "unknown-kind";
    }
  }

  /** The one query external peers may make: our public status (what the manifest says, fresh). */
  private onQuery(from: string, body: unknown): string | null {
    const id = (body as { id?: unknown } | null)?.id;
    if (typeof id !== "string" || id.length > 64) return "malformed";
    const m = this.h.buildManifest();
    this.h.send(from, sealMessage(this.h.key, "query-reply", this.h.nodeId, from, { id, capabilities: m.capabilities }));
    return null;
  }

  private onManifest(topicNode: string, payload: Buffer): void {
    const h = this.h;
    if (payload.length === 0 || topicNode === h.nodeId) return;
    let signed: unknown;
    try {
      signed = parsePeerJson(payload);
    } catch {
      return this.drop("malformed", topicNode);
    }
    const known = h.peer(topicNode);
    const clock = this.clock();
    const v = verifyManifest(signed, {
      now: Date.now(), skewMs: h.config["federation.clockSkewSeconds"] * 1000, clockUntrusted: clockUntrusted(clock),
      highWater: (id) => h.store.highWater(id, "manifest"),
      knownKey: (id) => h.peer(id)?.publicKey,
      allowNewSigners: true,
    });
    if (!v.ok) {
      // The broker re-sends the retained manifest on every reconnect: the exact same one is not an attack.
      if (v.reason === "replay" && known?.manifest && (signed as SignedManifest).manifest?.issuedAt === known.manifest.issuedAt) {
        h.counters.duplicates++;
        return;
      }
      return this.drop(v.reason, topicNode);
    }
    if (v.manifest.nodeId !== topicNode) return this.drop("misaddressed", topicNode);
    if (v.clockTolerated) this.clockWarning(topicNode, "manifest issuedAt", clock);
    h.store.recordManifest(v.manifest, Date.now());
    const seen = this.presence.get(topicNode);
    if (seen !== undefined) h.store.setOnline(topicNode, seen, Date.now());
    h.reloadPeers(true);
    if (!known) h.log.info({ peer: v.manifest.nodeId, name: v.manifest.name, fingerprint: h.peer(v.manifest.nodeId)?.fingerprint }, "federation: new node seen; it stays unknown until an admin approves it");
    const tier = h.tierOf(topicNode);
    if ((tier === "core" || tier === "sandbox") && v.manifest.logHead > h.sync.recvCursor(topicNode)) h.sync.requestSync(topicNode);
  }

  private onPresence(nodeId: string, payload: Buffer): void {
    const h = this.h;
    if (nodeId === h.nodeId || payload.length === 0) return;
    let status: unknown;
    try {
      status = (JSON.parse(payload.toString("utf8")) as { status?: unknown }).status;
    } catch {
      return this.drop("malformed", nodeId);
    }
    const online = status === "online";
    // Presence may arrive before the manifest (both are retained): remember it for then.
    this.presence.set(nodeId, online);
    if (this.presence.size > 10_000) this.presence.clear();
    if (!h.peer(nodeId)) return;
    h.store.setOnline(nodeId, online, Date.now());
    h.reloadPeers(true);
    if (!online) h.offload.peerLost(nodeId);
    else if (h.tierOf(nodeId) === "core" || h.tierOf(nodeId) === "sandbox") {
      h.sync.resetPeer(nodeId);
      h.sync.requestSync(nodeId);
    }
  }
}
