import type BetterSqlite3 from "better-sqlite3";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { Database } from "../db/Database.js";
import { fingerprintOf } from "../identity/NodeIdentity.js";
import type { KnowledgePacket } from "./KnowledgePacket.js";
import type { Manifest } from "./Manifest.js";
import { federationMigrations } from "./migrations.js";
import { isTier, type Tier } from "./trust.js";

export interface PeerRow {
  nodeId: string;
  name: string;
  publicKey: string;
  encryptionKey: string | null;
  fingerprint: string;
  tier: Tier;
  manifest: Manifest | null;
  firstSeen: number;
  lastSeen: number;
  online: boolean;
}

export interface TierEvent {
  id: number;
  nodeId: string;
  fromTier: Tier;
  toTier: Tier;
  actor: string;
  at: number;
}

interface RawPeer {
  node_id: string; name: string; public_key: string; encryption_key: string | null; fingerprint: string;
  tier: string; manifest: string | null; first_seen: number; last_seen: number; online: number;
}

function toPeer(r: RawPeer): PeerRow {
  return {
    nodeId: r.node_id, name: r.name, publicKey: r.public_key, encryptionKey: r.encryption_key, fingerprint: r.fingerprint,
    tier: isTier(r.tier) ? r.tier : "unknown", manifest: r.manifest ? (JSON.parse(r.manifest) as Manifest) : null,
    firstSeen: r.first_seen, lastSeen: r.last_seen, online: r.online === 1,
  };
}

const normFp = (s: string) => s.toUpperCase().replace(/[^A-Z2-7]/g, "");

/**
 * Federation's SQLite access. Usable without the running service (the CLI
 * opens the same file), so tier changes made there are seen by the node
 * (it watches `PRAGMA data_version`) and audited by it.
 */
export class FederationStore {
  readonly sqlite: BetterSqlite3.Database;
  private readonly s;

  constructor(db: Database) {
    db.migrate("federation", federationMigrations);
    this.sqlite = db.sqlite;
    const q = (sql: string) => this.sqlite.prepare(sql);
    this.s = {
      peers: q("SELECT * FROM fed_peers ORDER BY tier, name"),
      peer: q("SELECT * FROM fed_peers WHERE node_id = ?"),
      upsertPeer: q(`INSERT INTO fed_peers (node_id, name, public_key, encryption_key, fingerprint, manifest, first_seen, last_seen, source)
        VALUES (@nodeId, @name, @publicKey, @encryptionKey, @fingerprint, @manifest, @now, @now, @source)
        ON CONFLICT(node_id) DO UPDATE SET name = excluded.name, encryption_key = excluded.encryption_key,
          manifest = excluded.manifest, last_seen = excluded.last_seen`),
      setOnline: q("UPDATE fed_peers SET online = ?, last_seen = ? WHERE node_id = ?"),
      setTier: q("UPDATE fed_peers SET tier = ? WHERE node_id = ?"),
      removePeer: q("DELETE FROM fed_peers WHERE node_id = ?"),
      tierEvent: q("INSERT INTO fed_tier_events (node_id, from_tier, to_tier, actor, at) VALUES (?, ?, ?, ?, ?)"),
      unaudited: q("SELECT id, node_id AS nodeId, from_tier AS fromTier, to_tier AS toTier, actor, at FROM fed_tier_events WHERE audited = 0 ORDER BY id"),
      markAudited: q("UPDATE fed_tier_events SET audited = 1 WHERE id = ?"),
      hw: q("SELECT seq FROM fed_high_water WHERE signer = ? AND stream = ?"),
      setHw: q(`INSERT INTO fed_high_water (signer, stream, seq) VALUES (?, ?, ?)
        ON CONFLICT(signer, stream) DO UPDATE SET seq = MAX(seq, excluded.seq)`),
      selfGet: q("SELECT value FROM fed_self WHERE key = ?"),
      selfSet: q("INSERT INTO fed_self (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
      logHead: q("SELECT COALESCE(MAX(seq), 0) AS head FROM fed_log"),
      logInsert: q("INSERT INTO fed_log (seq, id, type, recipient, packet, created_at) VALUES (?, ?, ?, ?, ?, ?)"),
      logPrev: q("SELECT COALESCE(MAX(seq), 0) AS prev FROM fed_log WHERE seq < ? AND (recipient IS NULL OR recipient = ?)"),
      logSince: q("SELECT seq, recipient, packet FROM fed_log WHERE seq > ? ORDER BY seq LIMIT ?"),
      cursor: q("SELECT acked, recv FROM fed_cursors WHERE peer_id = ?"),
      setAcked: q(`INSERT INTO fed_cursors (peer_id, acked) VALUES (?, ?) ON CONFLICT(peer_id) DO UPDATE SET acked = MAX(acked, excluded.acked)`),
      setRecv: q(`INSERT INTO fed_cursors (peer_id, recv) VALUES (?, ?) ON CONFLICT(peer_id) DO UPDATE SET recv = MAX(recv, excluded.recv)`),
      hasPacket: q("SELECT pending FROM fed_packets WHERE id = ?"),
      ownPacket: q("SELECT 1 FROM fed_log WHERE id = ?"),
      insertPacket: q(`INSERT OR IGNORE INTO fed_packets (id, author, seq, type, scope, created_at, deps, body, pending, received_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      pendingPackets: q("SELECT id, deps, scope, type, author, created_at AS createdAt, body FROM fed_packets WHERE pending = 1 ORDER BY received_at LIMIT 1000"),
      resolve: q("UPDATE fed_packets SET pending = 0 WHERE id = ?"),
      item: q("SELECT packet_id AS packetId, created_at AS createdAt, author FROM fed_items WHERE scope = ? AND item_key = ?"),
      setItem: q(`INSERT INTO fed_items (scope, item_key, packet_id, created_at, author) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(scope, item_key) DO UPDATE SET packet_id = excluded.packet_id, created_at = excluded.created_at, author = excluded.author`),
      countPackets: q("SELECT scope, pending, COUNT(*) AS n FROM fed_packets GROUP BY scope, pending"),
      packetsByAuthor: q("SELECT id, seq, type, scope, body FROM fed_packets WHERE author = ? ORDER BY seq"),
      dropBody: q("UPDATE fed_packets SET body = 'null' WHERE id = ?"),
      dropOutboxBackups: q("DELETE FROM fed_log WHERE type = 'backup-chunk' AND recipient = ?"),
    };
  }

  // ── peers ─────────────────────────────────────────────
  peers(): PeerRow[] {
    return (this.s.peers.all() as RawPeer[]).map(toPeer);
  }

  peer(nodeId: string): PeerRow | undefined {
    const r = this.s.peer.get(nodeId) as RawPeer | undefined;
    return r ? toPeer(r) : undefined;
  }

  /** Records a verified manifest; a first sighting creates the peer as unknown. */
  recordManifest(m: Manifest, now: number, source = "broker"): void {
    this.s.upsertPeer.run({
      nodeId: m.nodeId, name: m.name, publicKey: m.publicKey, encryptionKey: m.encryptionKey,
      fingerprint: fingerprintOf(new Uint8Array(Buffer.from(m.publicKey, "base64"))), manifest: JSON.stringify(m), now, source,
    });
    this.s.setHw.run(m.nodeId, "manifest", m.seq);
  }

  setOnline(nodeId: string, online: boolean, now: number): void {
    this.s.setOnline.run(online ? 1 : 0, now, nodeId);
  }

  /** Finds a peer by node id, a unique node-id prefix (at least 4 characters) or its fingerprint. */
  findPeer(ref: string): PeerRow {
    const exact = this.peer(ref);
    if (exact) return exact;
    const fp = normFp(ref);
    const matches = this.peers().filter((p) => (ref.length >= 4 && p.nodeId.startsWith(ref.toLowerCase())) || (fp.length >= 16 && normFp(p.fingerprint) === fp));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new SovereignError("FED_PEER_AMBIGUOUS", `"${ref}" matches ${matches.length} peers.`, { details: { ref } });
    throw new SovereignError("FED_PEER_NOT_FOUND", `No peer "${ref}" is known.`, { details: { ref } });
  }

  /**
   * Changes a peer's tier and records the change for the audit log, in one
   * transaction. Approving (leaving "unknown") requires the fingerprint the
   * admin compared aloud, when given.
   */
  setTier(ref: string, tier: Tier, actor: string, options: { fingerprint?: string; selfId?: string; now?: number } = {}): { peer: PeerRow; from: Tier; changed: boolean } {
    if (!isTier(tier)) throw new SovereignError("FED_TIER_INVALID", `"${String(tier)}" is not a trust tier.`, { hint: "Use core, sandbox, external or unknown." });
    const peer = this.findPeer(ref);
    if (options.selfId && peer.nodeId === options.selfId) throw new SovereignError("FED_SELF");
    if (options.fingerprint !== undefined && normFp(options.fingerprint) !== normFp(peer.fingerprint)) {
      throw new SovereignError("FED_FINGERPRINT_MISMATCH", `The fingerprint does not match ${peer.name} (${peer.nodeId}).`, { details: { nodeId: peer.nodeId } });
    }
    const from = peer.tier;
    if (from === tier) return { peer, from, changed: false };
    this.sqlite.transaction(() => {
      this.s.setTier.run(tier, peer.nodeId);
      this.s.tierEvent.run(peer.nodeId, from, tier, actor, options.now ?? Date.now());
    })();
    return { peer: { ...peer, tier }, from, changed: true };
  }

  /** Forgets a peer (its tier becomes unknown if it shows up again); the removal is audited like a tier change. */
  removePeer(ref: string, actor: string, now = Date.now()): PeerRow {
    const peer = this.findPeer(ref);
    this.sqlite.transaction(() => {
      this.s.removePeer.run(peer.nodeId);
      this.s.tierEvent.run(peer.nodeId, peer.tier, "unknown", `${actor} (removed)`, now);
    })();
    return peer;
  }

  unauditedTierEvents(): TierEvent[] {
    return this.s.unaudited.all() as TierEvent[];
  }

  markAudited(id: number): void {
    this.s.markAudited.run(id);
  }

  // ── high-water marks and own counters ─────────────────
  highWater(signer: string, stream: string): number | undefined {
    return (this.s.hw.get(signer, stream) as { seq: number } | undefined)?.seq;
  }

  setHighWater(signer: string, stream: string, seq: number): void {
    this.s.setHw.run(signer, stream, seq);
  }

  /** Next value of a persisted own counter (e.g. the manifest sequence): never repeats across restarts. */
  nextSelf(key: string): number {
    return this.sqlite.transaction(() => {
      const cur = (this.s.selfGet.get(key) as { value: number } | undefined)?.value ?? 0;
      this.s.selfSet.run(key, cur + 1);
      return cur + 1;
    })();
  }

  /** A persisted own value (e.g. a watermark); 0 when never set. */
  selfValue(key: string): number {
    return (this.s.selfGet.get(key) as { value: number } | undefined)?.value ?? 0;
  }

  setSelfValue(key: string, value: number): void {
    this.s.selfSet.run(key, value);
  }

  // ── our packet log (the outbox) ───────────────────────
  logHead(): number {
    return (this.s.logHead.get() as { head: number }).head;
  }

  /** Appends packets made by `make(seq)` with consecutive sequence numbers, in one transaction. */
  appendLog(items: Array<(seq: number) => { packet: KnowledgePacket; recipient: string | null }>, now: number): Array<{ seq: number; packet: KnowledgePacket; recipient: string | null; text: string }> {
    return this.sqlite.transaction(() => {
      let seq = this.logHead();
      return items.map((make) => {
        seq++;
        const { packet, recipient } = make(seq);
        const text = JSON.stringify(packet);
        this.s.logInsert.run(seq, packet.id, packet.content.type, recipient, text, now);
        return { seq, packet, recipient, text };
      });
    })();
  }

  /** The seq of the last log entry before `seq` that `peer` is meant to receive (0 if none). */
  logPrev(seq: number, peer: string): number {
    return (this.s.logPrev.get(seq, peer) as { prev: number }).prev;
  }

  /**
   * Deletes the backup chunks in our outbox meant for one peer: a newer
   * mirror supersedes them, and the outbox (which every backup copies)
   * never holds more than one mirror per peer.
   */
  dropOutboxBackups(recipient: string): number {
    return this.s.dropOutboxBackups.run(recipient).changes;
  }

  logSince(seq: number, limit: number): Array<{ seq: number; recipient: string | null; packet: string }> {
    return this.s.logSince.all(seq, limit) as Array<{ seq: number; recipient: string | null; packet: string }>;
  }

  // ── cursors ───────────────────────────────────────────
  cursor(peer: string): { acked: number; recv: number } {
    return (this.s.cursor.get(peer) as { acked: number; recv: number } | undefined) ?? { acked: 0, recv: 0 };
  }

  setAcked(peer: string, seq: number): void {
    this.s.setAcked.run(peer, seq);
  }

  setRecv(peer: string, seq: number): void {
    this.s.setRecv.run(peer, seq);
  }

  // ── received packets ──────────────────────────────────
  /** Stores a verified packet once; false when it was already there (a duplicate). */
  insertPacket(p: KnowledgePacket, scope: "main" | "quarantine", pending: boolean, now: number): boolean {
    const c = p.content;
    const r = this.s.insertPacket.run(p.id, c.author, c.seq, c.type, scope, c.createdAt, JSON.stringify(c.deps), JSON.stringify(c.body ?? null), pending ? 1 : 0, now);
    return r.changes === 1;
  }

  /** Whether a packet is ours, or stored and applied (not waiting for its dependencies). */
  isApplied(id: string): boolean {
    const r = this.s.hasPacket.get(id) as { pending: number } | undefined;
    if (r !== undefined) return r.pending === 0;
    return this.s.ownPacket.get(id) !== undefined;
  }

  pending(): Array<{ id: string; deps: string; scope: "main" | "quarantine"; type: string; author: string; createdAt: number; body: string }> {
    return this.s.pendingPackets.all() as Array<{ id: string; deps: string; scope: "main" | "quarantine"; type: string; author: string; createdAt: number; body: string }>;
  }

  markResolved(id: string): void {
    this.s.resolve.run(id);
  }

  item(scope: string, key: string): { packetId: string; createdAt: number; author: string } | undefined {
    return this.s.item.get(scope, key) as { packetId: string; createdAt: number; author: string } | undefined;
  }

  setItem(scope: string, key: string, packetId: string, createdAt: number, author: string): void {
    this.s.setItem.run(scope, key, packetId, createdAt, author);
  }

  /** Forgets an applied packet's body once it lives elsewhere (a backup chunk, in the mirror store); the id stays, for idempotency. */
  dropBody(id: string): void {
    this.s.dropBody.run(id);
  }

  packetCounts(): { main: number; quarantine: number; pending: number } {
    const out = { main: 0, quarantine: 0, pending: 0 };
    for (const r of this.s.countPackets.all() as Array<{ scope: "main" | "quarantine"; pending: number; n: number }>) {
      if (r.pending) out.pending += r.n;
      else out[r.scope] += r.n;
    }
    return out;
  }

  packetsFrom(author: string): Array<{ id: string; seq: number; type: string; scope: string; body: string }> {
    return this.s.packetsByAuthor.all(author) as Array<{ id: string; seq: number; type: string; scope: string; body: string }>;
  }

  dataVersion(): number {
    return this.sqlite.pragma("data_version", { simple: true }) as number;
  }
}
