import type { KeyObject } from "node:crypto";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { EncryptionKey } from "./backupCrypto.js";
import { mirrorBackup, mirrorCopy, newestBackup } from "./backupMirror.js";
// The transport, broker and discovery modules pull in mqtt, aedes and mDNS: loaded only when federation is on.
import type { Discovery, DiscoveredNode } from "./Discovery.js";
import type { EmbeddedBroker } from "./EmbeddedBroker.js";
import { FederationCounters, type FederationStatsSnapshot } from "./FederationStats.js";
import type { FederationStore, PeerRow } from "./FederationStore.js";
import type { KnowledgePacket } from "./KnowledgePacket.js";
import { Inbound } from "./Inbound.js";
import { hardwareSummary, signManifest, type Manifest, type SignedManifest } from "./Manifest.js";
import { MirrorStore, mirrorDirOf } from "./MirrorStore.js";
import type { MqttTransport } from "./MqttTransport.js";
import { Offload, type OffloadChunk, type OffloadPreference } from "./Offload.js";
import { signPeerRequest, verifyPeerRequest } from "./peerHttp.js";
import { sealMessage } from "./messages.js";
import { SyncEngine, type AppliedPacket, type NewPacket } from "./SyncEngine.js";
import { brokerPassword } from "./brokerLogin.js";
import type { ChatRequest, LocalInference } from "./localInference.js";
import { Topics } from "./topics.js";
import type { Tier } from "./trust.js";
import type { HardwareReport } from "../../hardware/HardwareFacts.js";
import type { Config } from "../../core/config/Config.js";

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
  private readonly inbound: Inbound;
  private timers: NodeJS.Timeout[] = [];
  private current: SignedManifest | undefined;
  private readonly listeners = new Set<(a: AppliedPacket) => void>();
  private readonly appliers = new Set<(a: AppliedPacket) => void>();
  private brokerUrl: string | null = null;
  /** Backups this node holds for its core peers (ciphertext only). */
  readonly mirrors: MirrorStore;
  private updateOfferHandler: ((from: string, body: unknown) => string | null) | null = null;
  private bundleSource: ((sha256: string) => string | null) | null = null;

  constructor(private readonly o: FederationServiceOptions) {
    const c = o.config;
    this.topics = new Topics(c["federation.topicPrefix"]);
    this.sync = new SyncEngine({
      store: o.store, nodeId: o.identity.nodeId, key: o.identity.key, counters: this.counters,
      batchSize: c["federation.syncBatchSize"], maxPayloadBytes: c["federation.maxPayloadBytes"],
      pushTargets: () => (this.transport?.connected ? this.peersIn("core").map((p) => p.nodeId) : []),
      send: (peer, payload) => this.send(peer, payload),
      onApplied: (a) => {
        if (a.packet.content.type === "backup-chunk") {
          // A core peer's chunk, for us to hold as a file; its body leaves the packet table either way.
          const c = a.packet.content;
          const held = a.scope === "main" && c.to === this.nodeId && this.mirrors.put(c.author, c.body);
          this.counters.mirrors[held ? "chunksStored" : "chunksRefused"]++;
          o.store.dropBody(a.packet.id);
        }
        // Appliers write what the packet means (a memory): a throw rolls the message back, and sync asks for it again.
        for (const apply of this.appliers) apply(a);
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
    this.mirrors = new MirrorStore(mirrorDirOf(c["paths.dataDir"]), c["federation.backupMirrorKeep"]);
    this.inbound = new Inbound({
      nodeId: o.identity.nodeId, key: o.identity.key, config: c, store: o.store, topics: this.topics, counters: this.counters,
      sync: this.sync, offload: this.offload, log: o.log,
      peer: (id) => this.peerCache.get(id),
      tierOf: (id) => this.tierOf(id),
      reloadPeers: (force) => this.reloadPeers(force),
      send: (peer, payload) => this.send(peer, payload),
      buildManifest: () => this.buildManifest(),
      updateOffer: (from, body) => this.updateOfferHandler?.(from, body) ?? null,
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
      onMessage: (topic, payload) => this.inbound.enqueue(topic, payload),
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

  /** Told of every applied packet, after it is stored; a listener's failure is logged and changes nothing. */
  onPacket(listener: (a: AppliedPacket) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Applies every packet's meaning elsewhere (memory), inside the inbound
   * message's savepoint: if `apply` throws, the packet is not stored either
   * and the next sync brings it again.
   */
  onApply(apply: (a: AppliedPacket) => void): () => void {
    this.appliers.add(apply);
    return () => this.appliers.delete(apply);
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

  // ── update bundles ────────────────────────────────────
  /** Sends a signed update-bundle offer to every core peer (the update service's body); the peers it went to. */
  offerUpdate(body: unknown): string[] {
    const sent: string[] = [];
    for (const p of this.peersIn("core")) {
      if (this.send(p.nodeId, sealMessage(this.o.identity.key, "update-offer", this.nodeId, p.nodeId, body))) sent.push(p.nodeId);
    }
    return sent;
  }

  /** Who decides on a core peer's offer (the update service): returns null, or a drop reason for the counters. */
  onUpdateOffer(handler: ((from: string, body: unknown) => string | null) | null): void {
    this.updateOfferHandler = handler;
  }

  /** Where this node's own shared bundles are, by sha256 (the update service's offer store), for GET /api/federation/update-bundles/:sha256. */
  serveBundlesFrom(source: ((sha256: string) => string | null) | null): void {
    this.bundleSource = source;
  }

  bundlePath(sha256: string): string | null {
    return this.bundleSource?.(sha256) ?? null;
  }

  /** The HTTP endpoints a peer's signed manifest names (unspecified addresses such as 0.0.0.0 left out). */
  peerHttpEndpoints(nodeId: string): string[] {
    const urls = this.peerCache.get(nodeId)?.manifest?.endpoints.http ?? [];
    return urls.filter((u) => {
      try {
        const h = new URL(u).hostname;
        return h !== "0.0.0.0" && h !== "[::]" && h !== "::";
      } catch {
        return false;
      }
    });
  }

  /** Headers that prove to `to` that this node asks for `method path` with this Range (peerHttp.ts). */
  signPeerRequest(to: string, method: string, path: string, range: string): Record<string, string> {
    return signPeerRequest(this.o.identity.key, this.nodeId, to, method, path, range);
  }

  /** The core peer that signed an HTTP request, or a coded refusal. */
  verifyPeerRequest(request: { method: string; url: string; headers: Record<string, string | string[] | undefined> }): PeerRow {
    this.reloadPeers();
    return verifyPeerRequest(request, this.nodeId, (id) => this.peerCache.get(id), "update", this.o.config["federation.clockSkewSeconds"] * 1000);
  }

  // ── backup mirrors ────────────────────────────────────
  /** Mirrors backup bytes to every core peer, sealed to this node and to the receiving peer. */
  mirrorBackup(data: Buffer, name: string): { backupId: string; chunks: number; peers: string[] } {
    const r = mirrorBackup(this, this.o.encryptionKey, data, name, this.o.config["federation.maxPayloadBytes"]);
    this.counters.mirrors.sent++;
    return r;
  }

  /** Mirrors the newest backup in `dir` (after the db-backup job, or on demand); null when mirroring is off or no core peer could take it. */
  mirrorNewestBackup(dir: string, options: { required?: boolean } = {}): { backupId: string; chunks: number; peers: string[]; name: string } | null {
    const on = this.o.config["federation.backupMirror"] && this.enabled;
    if (!options.required && (!on || this.peersIn("core").length === 0)) return null;
    if (!on) throw new SovereignError("FED_DISABLED", "Federation or federation.backupMirror is off on this node.");
    const newest = newestBackup(dir);
    return { ...this.mirrorBackup(mirrorCopy(newest.path), newest.name), name: newest.name };
  }

  // ── stats and lifecycle ───────────────────────────────
  stats(): FederationStatsSnapshot {
    return this.counters.snapshot({
      enabled: this.enabled, connected: this.connected, broker: { mode: this.o.config["federation.broker.mode"], url: this.brokerUrl },
      nodeId: this.nodeId, peers: [...this.peerCache.values()], logHead: this.o.store.logHead(), stored: this.o.store.packetCounts(),
    });
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
