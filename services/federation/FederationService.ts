import type { KeyObject } from "node:crypto";
import type { EncryptionKey } from "./backupCrypto.js";
import { mirrorBackup } from "./backupMirror.js";
// The transport, broker and discovery modules pull in mqtt, aedes and mDNS: loaded only when federation is on.
import type { Discovery, DiscoveredNode } from "./Discovery.js";
import type { EmbeddedBroker } from "./EmbeddedBroker.js";
import { FederationCounters, type DropReason, type FederationStatsSnapshot } from "./FederationStats.js";
import type { FederationStore, PeerRow } from "./FederationStore.js";
import type { KnowledgePacket } from "./KnowledgePacket.js";
import { hardwareSummary, signManifest, verifyManifest, type Manifest, type SignedManifest } from "./Manifest.js";
import type { MqttTransport } from "./MqttTransport.js";
import { Offload, type OffloadChunk, type OffloadPreference } from "./Offload.js";
import { SyncEngine, type AppliedPacket, type NewPacket } from "./SyncEngine.js";
import { brokerPassword } from "./brokerLogin.js";
import type { ChatRequest, LocalInference } from "./localInference.js";
import { peekSender, sealMessage, verifyMessage, type Envelope } from "./messages.js";
import { Topics } from "./topics.js";
import { inboundDecision, isMessageKind, TIERS, type Tier } from "./trust.js";
import type { HardwareReport } from "../../hardware/HardwareFacts.js";
import type { Config } from "../../appliance/config/settings.js";

export interface Logger {
  info: (obj: object, msg: string) => void;
  warn: (obj: object, msg: string) => void;
  error: (obj: object, msg: string) => void;
}

export interface FederationServiceOptions {
  config: Config;
  store: FederationStore;
  identity: { nodeId: string; publicKeyB64: string; fingerprint: string; key: KeyObject };
  encryptionKey: EncryptionKey;
  name: string;
  hardware?: HardwareReport;
  httpEndpoints?: () => string[];
  log: Logger;
  audit?: (e: { type: string; actor: string; subject: string; details: Record<string, unknown> }) => void;
  local: () => LocalInference;
}

/**
 * The federation of this node: its signed manifest, its peers and their
 * tiers, the MQTT link, knowledge sync and inference offload. Inbound
 * messages are queued and handled in small batches, each in its own SQLite
 * savepoint, so a bad message is dropped and counted without stopping others.
 */
export class FederationService {
  readonly counters = new FederationCounters();
  readonly topics: Topics;
  readonly sync: SyncEngine;
  readonly offload: Offload;
  private peerCache = new Map<string, PeerRow>();
  private dataVersion = -1;
  private transport: MqttTransport | undefined;
  private broker: EmbeddedBroker | undefined;
  private discovery: Discovery | undefined;
  private inbox: Array<{ topic: string; payload: Buffer }> = [];
  private draining = false;
  private timers: NodeJS.Timeout[] = [];
  private current: SignedManifest | undefined;
  private readonly listeners = new Set<(a: AppliedPacket) => void>();
  private readonly logGate = new Map<string, number>();
  private brokerUrl: string | null = null;
  private readonly presence = new Map<string, boolean>();

  constructor(private readonly o: FederationServiceOptions) {
    const c = o.config;
    this.topics = new Topics(c["federation.topicPrefix"]);
    this.sync = new SyncEngine({
      store: o.store, nodeId: o.identity.nodeId, key: o.identity.key, counters: this.counters,
      batchSize: c["federation.syncBatchSize"], maxPayloadBytes: c["federation.maxPayloadBytes"],
      pushTargets: () => (this.transport?.connected ? this.peersIn("core").map((p) => p.nodeId) : []),
      send: (peer, payload) => this.send(peer, payload),
      onApplied: (a) => {
        for (const l of this.listeners) {
          try {
            l(a);
          } catch (err) {
            o.log.error({ err: (err as Error).message }, "federation: a packet listener failed");
          }
        }
      },
    });
    this.offload = new Offload({
      nodeId: o.identity.nodeId, key: o.identity.key, counters: this.counters,
      firstTokenTimeoutMs: c["federation.offload.firstTokenTimeoutMs"], idleTimeoutMs: c["federation.offload.idleTimeoutMs"],
      breakerThreshold: c["federation.offload.breakerThreshold"], breakerCooldownMs: c["federation.offload.breakerCooldownMs"],
      corePeers: () => this.peersIn("core"), local: o.local, send: (peer, payload) => this.send(peer, payload), log: o.log,
    });
    this.reloadPeers();
  }

  get store(): FederationStore {
    return this.o.store;
  }

  get nodeId(): string {
    return this.o.identity.nodeId;
  }

  get enabled(): boolean {
    return this.o.config["federation.enabled"] && this.o.config["federation.broker.mode"] !== "off";
  }

  get connected(): boolean {
    return this.transport?.connected ?? false;
  }

  /** The embedded broker's port, when this node hosts one. */
  get brokerPort(): number | null {
    return this.broker?.port ?? null;
  }

  async start(): Promise<void> {
    this.issueManifest();
    if (!this.enabled) return;
    const c = this.o.config;
    const skewMs = c["federation.clockSkewSeconds"] * 1000;
    if (c["federation.broker.mode"] === "embedded") {
      const { EmbeddedBroker } = await import("./EmbeddedBroker.js");
      this.broker = await EmbeddedBroker.start({
        host: c["federation.broker.host"], port: c["federation.broker.port"], topics: this.topics,
        maxPayloadBytes: c["federation.maxPayloadBytes"], skewMs: Math.max(skewMs, 60_000), log: this.o.log,
      });
      const host = c["federation.broker.host"] === "0.0.0.0" ? "127.0.0.1" : c["federation.broker.host"];
      await this.connect(`mqtt://${host.includes(":") ? `[${host}]` : host}:${this.broker.port}`, true);
    } else if (c["federation.broker.url"]) {
      await this.connect(c["federation.broker.url"], false);
    }
    if (c["federation.discovery"]) {
      const { Discovery } = await import("./Discovery.js");
      this.discovery = new Discovery((n) => this.onDiscovered(n), this.o.log);
      this.discovery.start({
        nodeId: this.nodeId, fingerprint: this.o.identity.fingerprint, name: this.o.name,
        httpPort: c["server.port"], mqttPort: this.broker?.port ?? null,
      });
    }
    const reissueMs = Math.max(10_000, (c["federation.manifestTtlSeconds"] * 1000) / 3);
    this.timers.push(setInterval(() => this.issueManifest(), reissueMs).unref());
  }

  private async connect(url: string, embedded: boolean): Promise<void> {
    const c = this.o.config;
    const id = this.o.identity;
    this.brokerUrl = url;
    const { MqttTransport } = await import("./MqttTransport.js");
    this.transport = new MqttTransport({
      url, clientId: id.nodeId, topics: this.topics, maxPayloadBytes: c["federation.maxPayloadBytes"],
      // Without configured credentials, present the node login: another node's embedded broker requires it.
      username: embedded || !c["federation.broker.username"] ? id.nodeId : c["federation.broker.username"],
      password: embedded || !c["federation.broker.username"] ? () => brokerPassword(id.key, id.nodeId, id.publicKeyB64) : c["federation.broker.password"],
      caFile: c["federation.broker.caFile"], certFile: c["federation.broker.certFile"], keyFile: c["federation.broker.keyFile"],
      rejectUnauthorized: c["federation.broker.rejectUnauthorized"],
      onMessage: (topic, payload) => this.enqueue(topic, payload),
      onConnect: () => {
        this.o.log.info({ broker: url }, "federation: connected to the broker");
        this.publishManifest();
        // The link is back: ask every peer we take packets from for what we missed.
        for (const p of this.peerCache.values()) {
          this.sync.resetPeer(p.nodeId);
          if (p.tier === "core" || p.tier === "sandbox") this.sync.requestSync(p.nodeId);
        }
      },
      onDisconnect: () => {
        this.o.log.warn({ broker: url }, "federation: broker link down; packets stay in the outbox");
        for (const p of this.peerCache.values()) this.offload.peerLost(p.nodeId);
      },
      log: this.o.log,
    });
    this.transport.start();
  }

  /** In external mode with no URL, the first LAN node that hosts a broker is used. */
  private onDiscovered(n: DiscoveredNode): void {
    if (!this.transport && !this.brokerUrl && this.enabled && this.o.config["federation.broker.mode"] === "external" && n.mqtt) {
      this.o.log.info({ peer: n.nodeId, broker: n.mqtt }, "federation: using a broker found by DNS-SD");
      void this.connect(n.mqtt, false);
    }
  }

  discovered(): DiscoveredNode[] {
    return [...(this.discovery?.found.values() ?? [])];
  }

  // ── manifest ──────────────────────────────────────────
  buildManifest(now = Date.now()): Manifest {
    const cap = this.o.local().capacity();
    const available = this.o.config["federation.offload.enabled"] && this.o.local().available();
    return {
      v: 1, nodeId: this.nodeId, name: this.o.name, publicKey: this.o.identity.publicKeyB64, encryptionKey: this.o.encryptionKey.publicKeyB64,
      capabilities: {
        hardware: hardwareSummary(this.o.hardware), models: cap.models,
        inference: { available, parallel: cap.parallel, queueDepth: cap.queueDepth, freeSlots: available ? cap.freeSlots : 0 },
      },
      endpoints: { http: this.o.httpEndpoints?.() ?? [], mqtt: this.brokerUrl ? [this.brokerUrl] : [] },
      seq: this.o.store.nextSelf("manifest-seq"), issuedAt: now, expiresAt: now + this.o.config["federation.manifestTtlSeconds"] * 1000,
      logHead: this.o.store.logHead(),
    };
  }

  /** Signs a fresh manifest (next seq) and publishes it retained. */
  issueManifest(): SignedManifest {
    this.current = signManifest(this.buildManifest(), this.o.identity.key);
    this.publishManifest();
    return this.current;
  }

  manifest(): SignedManifest {
    return this.current ?? this.issueManifest();
  }

  private publishManifest(): void {
    if (this.current && this.transport) this.transport.publish(this.topics.manifest(this.nodeId), JSON.stringify(this.current), { retain: true });
  }

  // ── peers and tiers ───────────────────────────────────
  /**
   * Re-reads the peers table when it changed: `data_version` moves when another
   * connection (the CLI) commits; our own writes pass `force`.
   */
  private reloadPeers(force = false): void {
    const v = this.o.store.dataVersion();
    if (v === this.dataVersion && !force) return;
    this.dataVersion = v;
    const before = this.peerCache;
    this.peerCache = new Map(this.o.store.peers().map((p) => [p.nodeId, p]));
    for (const [id, old] of before) {
      const now = this.peerCache.get(id);
      if (!now || now.tier !== old.tier) this.sync.resetPeer(id);
      if (old.tier === "core" && now?.tier !== "core") this.offload.peerLost(id);
    }
    this.flushAudit();
  }

  /** Tier changes (from the API or the CLI) go to the audit log exactly once. */
  private flushAudit(): void {
    if (!this.o.audit) return;
    for (const e of this.o.store.unauditedTierEvents()) {
      try {
        this.o.audit({ type: "peer.tier_changed", actor: e.actor, subject: e.nodeId, details: { from: e.fromTier, to: e.toTier, at: new Date(e.at).toISOString() } });
        this.o.store.markAudited(e.id);
      } catch (err) {
        this.o.log.error({ err: (err as Error).message }, "federation: could not audit a tier change; will retry");
        return;
      }
    }
  }

  peers(): PeerRow[] {
    this.reloadPeers();
    return [...this.peerCache.values()];
  }

  peersIn(tier: Tier): PeerRow[] {
    return [...this.peerCache.values()].filter((p) => p.tier === tier);
  }

  tierOf(nodeId: string): Tier {
    return this.peerCache.get(nodeId)?.tier ?? "unknown";
  }

  /** Sets a peer's tier (approval is a change away from unknown, checked against the fingerprint when given). */
  setTier(ref: string, tier: Tier, actor: string, fingerprint?: string): { peer: PeerRow; from: Tier; changed: boolean } {
    const r = this.o.store.setTier(ref, tier, actor, { ...(fingerprint !== undefined ? { fingerprint } : {}), selfId: this.nodeId });
    this.reloadPeers(true);
    if (r.changed && (tier === "core" || tier === "sandbox")) this.sync.requestSync(r.peer.nodeId);
    return r;
  }

  removePeer(ref: string, actor: string): PeerRow {
    const p = this.o.store.removePeer(ref, actor);
    this.reloadPeers(true);
    return p;
  }

  // ── outbound ──────────────────────────────────────────
  private send(peer: string, payload: string): boolean {
    const t = this.transport;
    if (!t?.connected) return false;
    t.publish(this.topics.inbox(peer), payload);
    this.counters.messagesOut++;
    this.counters.bytesOut += payload.length;
    return true;
  }

  /** Publishes knowledge packets: stored in the outbox first, then pushed to core peers. */
  publish(items: NewPacket[]): KnowledgePacket[] {
    return this.sync.publish(items);
  }

  onPacket(listener: (a: AppliedPacket) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Asks every core and sandbox peer whose manifest shows packets we lack (or all of them) for a delta. */
  syncNow(all = false): number {
    this.reloadPeers();
    let asked = 0;
    for (const p of this.peerCache.values()) {
      if (p.tier !== "core" && p.tier !== "sandbox") continue;
      if (all || (p.manifest?.logHead ?? 0) > this.sync.recvCursor(p.nodeId)) {
        this.sync.requestSync(p.nodeId);
        asked++;
      }
    }
    return asked;
  }

  stream(request: ChatRequest, options: { signal?: AbortSignal; prefer?: OffloadPreference } = {}): AsyncGenerator<OffloadChunk> {
    return this.offload.stream(request, options);
  }

  // ── inbound ───────────────────────────────────────────
  private enqueue(topic: string, payload: Buffer): void {
    this.inbox.push({ topic, payload });
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drain());
    }
  }

  /** Handles up to 256 queued messages in one transaction (one savepoint each), then yields the event loop. */
  private drain(): void {
    const batch = this.inbox.splice(0, 256);
    try {
      this.reloadPeers();
      this.o.store.sqlite.transaction(() => {
        for (const m of batch) {
          try {
            this.o.store.sqlite.transaction(() => this.handle(m.topic, m.payload))();
          } catch (err) {
            this.drop("internal", peekSender(m.payload), (err as Error).message);
          }
        }
      })();
    } catch (err) {
      this.o.log.error({ err: (err as Error).message }, "federation: inbound batch failed");
    }
    if (this.inbox.length > 0) setImmediate(() => this.drain());
    else this.draining = false;
  }

  private drop(reason: DropReason, sender: string | null, detail?: string): void {
    this.counters.drops[reason]++;
    const gate = `${sender}/${reason}`;
    const now = Date.now();
    if ((this.logGate.get(gate) ?? 0) > now) return;
    this.logGate.set(gate, now + 10_000);
    if (this.logGate.size > 1000) this.logGate.clear();
    this.o.log.warn({ sender: sender ?? "(unknown)", reason, ...(detail ? { detail } : {}) }, "federation: dropped an inbound message");
  }

  private handle(topic: string, payload: Buffer): void {
    this.counters.messagesIn++;
    this.counters.bytesIn += payload.length;
    const t = this.topics.parse(topic);
    if (!t) return;
    if (payload.length > this.o.config["federation.maxPayloadBytes"]) return this.drop("oversized", t.leaf === "inbox" ? peekSender(payload) : t.nodeId, `${payload.length} bytes`);
    if (t.leaf === "presence") return this.onPresence(t.nodeId, payload);
    if (t.leaf === "manifest") return this.onManifest(t.nodeId, payload);
    if (t.nodeId !== this.nodeId) return;
    let env: Envelope & { packet?: unknown; prev?: unknown };
    try {
      env = JSON.parse(payload.toString("utf8")) as Envelope & { packet?: unknown; prev?: unknown };
    } catch {
      return this.drop("malformed", peekSender(payload));
    }
    if (typeof env !== "object" || env === null || env.v !== 1 || typeof env.from !== "string") return this.drop("malformed", peekSender(payload));
    const from = env.from;
    if (!isMessageKind(env.kind)) return this.drop("unknown-kind", from, String(env.kind).slice(0, 32));
    if (env.to !== this.nodeId) return this.drop("misaddressed", from);
    const peer = this.peerCache.get(from);
    const tier = peer?.tier ?? "unknown";
    const decision = inboundDecision(tier, env.kind);
    if (decision === "drop" || !peer) return this.drop("tier", from, `${env.kind} from a ${tier} peer`);
    const scope = decision === "quarantine" ? "quarantine" : "main";
    let reason: string | null;
    if (env.kind === "packet") {
      reason = this.sync.onPacket(from, peer.publicKey, scope, env.prev, env.packet);
    } else {
      if (!verifyMessage(env, peer.publicKey)) return this.drop("bad-signature", from);
      const skew = this.o.config["federation.clockSkewSeconds"] * 1000;
      if (typeof env.ts !== "number" || Math.abs(Date.now() - env.ts) > skew) return this.drop("stale", from);
      reason = this.dispatch(env, peer.publicKey, scope);
    }
    if (reason) this.drop(reason as DropReason, from);
  }

  private dispatch(env: Envelope, key: string, scope: "main" | "quarantine"): string | null {
    switch (env.kind) {
      case "sync-req": return this.sync.onSyncRequest(env.from, env.body);
      case "sync-batch": return this.sync.onSyncBatch(env.from, key, scope, env.body);
      case "offload-req": return this.o.config["federation.offload.enabled"] ? this.offload.onRequest(env.from, env.body) : "tier";
      case "offload-chunk": return this.offload.onChunk(env.from, env.body);
      case "offload-cancel": return this.offload.onCancel(env.from, env.body);
      case "query": return this.onQuery(env.from, env.body);
      case "query-reply": return null;
      default: return "unknown-kind";
    }
  }

  /** The one query external peers may make: our public status (what the manifest says, fresh). */
  private onQuery(from: string, body: unknown): string | null {
    const id = (body as { id?: unknown } | null)?.id;
    if (typeof id !== "string" || id.length > 64) return "malformed";
    const m = this.buildManifest();
    this.send(from, sealMessage(this.o.identity.key, "query-reply", this.nodeId, from, { id, capabilities: m.capabilities }));
    return null;
  }

  private onManifest(topicNode: string, payload: Buffer): void {
    if (payload.length === 0 || topicNode === this.nodeId) return;
    let signed: unknown;
    try {
      signed = JSON.parse(payload.toString("utf8"));
    } catch {
      return this.drop("malformed", topicNode);
    }
    const known = this.peerCache.get(topicNode);
    const v = verifyManifest(signed, {
      now: Date.now(), skewMs: this.o.config["federation.clockSkewSeconds"] * 1000,
      highWater: (id) => this.o.store.highWater(id, "manifest"),
      knownKey: (id) => this.peerCache.get(id)?.publicKey,
      allowNewSigners: true,
    });
    if (!v.ok) {
      // The broker re-sends the retained manifest on every reconnect: the exact same one is not an attack.
      if (v.reason === "replay" && known?.manifest && (signed as SignedManifest).manifest?.issuedAt === known.manifest.issuedAt) {
        this.counters.duplicates++;
        return;
      }
      return this.drop(v.reason, topicNode);
    }
    if (v.manifest.nodeId !== topicNode) return this.drop("misaddressed", topicNode);
    this.o.store.recordManifest(v.manifest, Date.now());
    const seen = this.presence.get(topicNode);
    if (seen !== undefined) this.o.store.setOnline(topicNode, seen, Date.now());
    this.reloadPeers(true);
    if (!known) this.o.log.info({ peer: v.manifest.nodeId, name: v.manifest.name, fingerprint: this.peerCache.get(v.manifest.nodeId)?.fingerprint }, "federation: new node seen; it stays unknown until an admin approves it");
    const tier = this.tierOf(topicNode);
    if ((tier === "core" || tier === "sandbox") && v.manifest.logHead > this.sync.recvCursor(topicNode)) this.sync.requestSync(topicNode);
  }

  private onPresence(nodeId: string, payload: Buffer): void {
    if (nodeId === this.nodeId || payload.length === 0) return;
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
    if (!this.peerCache.has(nodeId)) return;
    this.o.store.setOnline(nodeId, online, Date.now());
    this.reloadPeers(true);
    if (!online) this.offload.peerLost(nodeId);
    else if (this.tierOf(nodeId) === "core" || this.tierOf(nodeId) === "sandbox") {
      this.sync.resetPeer(nodeId);
      this.sync.requestSync(nodeId);
    }
  }

  /** Mirrors a backup to every core peer, encrypted to each one's key. */
  mirrorBackup(data: Buffer, name: string): Array<{ peer: string; backupId: string; chunks: number }> {
    return mirrorBackup(this, data, name, this.o.config["federation.maxPayloadBytes"]);
  }

  // ── stats and lifecycle ───────────────────────────────
  stats(): FederationStatsSnapshot {
    const c = this.counters;
    const byTier = Object.fromEntries(TIERS.map((t) => [t, 0])) as Record<Tier, number>;
    let online = 0;
    for (const p of this.peerCache.values()) {
      byTier[p.tier]++;
      if (p.online) online++;
    }
    return {
      enabled: this.enabled, connected: this.connected,
      broker: { mode: this.o.config["federation.broker.mode"], url: this.brokerUrl },
      nodeId: this.nodeId, packetsIn: c.packetsIn, packetsOut: c.packetsOut, messagesIn: c.messagesIn, messagesOut: c.messagesOut,
      bytesIn: c.bytesIn, bytesOut: c.bytesOut, applied: c.applied, quarantined: c.quarantined, duplicates: c.duplicates,
      drops: { ...c.drops }, peersByTier: byTier, peersOnline: online, logHead: this.o.store.logHead(),
      stored: this.o.store.packetCounts(), offload: { ...c.offload },
    };
  }

  /** Drops the broker link abruptly, as a crash would (the broker publishes our last will). For tests and benches. */
  severLink(): void {
    this.transport?.sever();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.offload.close();
    const t = this.transport;
    this.transport = undefined;
    if (t) {
      await t.publishAcked(this.topics.presence(this.nodeId), JSON.stringify({ status: "offline" }), true);
      await t.stop();
    }
    await this.discovery?.stop();
    await this.broker?.close();
    this.broker = undefined;
  }
}
