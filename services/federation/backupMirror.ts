import BetterSqlite3 from "better-sqlite3";
import { createHash, randomUUID } from "node:crypto";
import { copyFileSync, readFileSync, rmSync } from "node:fs";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { listBackups, type BackupInfo } from "../db/backups.js";
import { openSealed, sealTo, type EncryptionKey, type SealedChunk } from "./backupCrypto.js";
import type { FederationStore, PeerRow } from "./FederationStore.js";
import type { KnowledgePacket } from "./KnowledgePacket.js";
import type { NewPacket } from "./SyncEngine.js";

/** What names a mirrored backup and lets its reassembly be checked. */
export interface MirroredBackup {
  /** The node that made the backup. */
  owner: string;
  backupId: string;
  name: string;
  size: number;
  /** sha256 of the whole plaintext backup, checked after reassembly. */
  sha256: string;
  total: number;
  /** Epoch ms when the owner made the mirror. */
  createdAt: number;
}

/** One chunk as it travels; the owner is the packet's signer, not a field. */
export interface BackupChunkBody extends Omit<MirroredBackup, "owner"> {
  index: number;
  sealed: SealedChunk;
}

/** What a holder hands back to the owner: every sealed chunk of one backup, in order. Ciphertext only. */
export interface MirrorBundle extends MirroredBackup {
  format: "sovereign-backup-mirror";
  v: 1;
  chunks: SealedChunk[];
}

/** The authenticated identity of a chunk: it cannot be moved to another backup, position or owner unnoticed. */
export function chunkAad(owner: string, backupId: string, index: number, total: number): unknown {
  return { backupId, index, total, owner };
}

export interface MirrorSender {
  nodeId: string;
  store: FederationStore;
  peersIn(tier: "core"): PeerRow[];
  publish(items: NewPacket[]): KnowledgePacket[];
}

/**
 * Mirrors a backup to every core peer. The bytes are cut into chunks that
 * fit a packet and each is sealed to two readers: this node's own X25519 key
 * and the receiving peer's. The broker and every other node see ciphertext,
 * the peer keeps ciphertext at rest, the owner opens it with its own key, and
 * a node that lost its disk (and with it its keys) can still be restored by
 * the peer's admin, who opens the mirror on purpose. Chunks go out as
 * "backup-chunk" packets addressed to one peer each, each depending on the
 * one before; a new mirror replaces the previous one still in our outbox for
 * that peer.
 */
export function mirrorBackup(fed: MirrorSender, ownKey: EncryptionKey, data: Buffer, name: string, maxPayloadBytes: number, now = Date.now()): { backupId: string; chunks: number; peers: string[] } {
  const peers = fed.peersIn("core");
  if (peers.length === 0) throw new SovereignError("FED_BACKUP_NO_CORE_PEER");
  // Base64 grows 4/3, plus the packet's own JSON: leave a generous margin.
  const chunkBytes = Math.max(1024, Math.floor(((maxPayloadBytes - 4096) * 3) / 4 / 1.05));
  const total = Math.max(1, Math.ceil(data.length / chunkBytes));
  const sha256 = createHash("sha256").update(data).digest("hex");
  const backupId = randomUUID();
  const bodiesFor = (peer: PeerRow): BackupChunkBody[] =>
    Array.from({ length: total }, (_, index) => {
      const readers = [ownKey.publicKeyB64, ...(peer.encryptionKey ? [peer.encryptionKey] : [])];
      const sealed = sealTo(readers, data.subarray(index * chunkBytes, (index + 1) * chunkBytes), chunkAad(fed.nodeId, backupId, index, total));
      return { backupId, name, index, total, size: data.length, sha256, createdAt: now, sealed };
    });
  const sealedPerPeer = peers.map((peer) => ({ peer, bodies: bodiesFor(peer) }));
  fed.store.sqlite.transaction(() => {
    for (const { peer, bodies } of sealedPerPeer) {
      fed.store.dropOutboxBackups(peer.nodeId);
      let prev: string | undefined;
      for (const body of bodies) {
        const [packet] = fed.publish([{ type: "backup-chunk", body, to: peer.nodeId, ...(prev ? { deps: [prev] } : {}) }]);
        prev = packet!.id;
      }
    }
  })();
  return { backupId, chunks: total, peers: peers.map((p) => p.nodeId) };
}

export function newestBackup(dir: string): BackupInfo {
  const newest = listBackups(dir)[0];
  if (!newest) throw new SovereignError("BACKUP_NOT_FOUND", `No backup in ${dir} to mirror.`, { hint: "Run db-backup now on the Jobs page (/#/jobs), or `sovereign backup`." });
  return newest;
}

/**
 * The bytes to mirror for a backup file: a copy with the backup chunks of
 * earlier mirrors taken out of the outbox (and of received packets), so a
 * mirror never contains the previous one and does not grow night after night.
 */
export function mirrorCopy(backupPath: string): Buffer {
  const tmp = `${backupPath}.mirror`;
  copyFileSync(backupPath, tmp);
  try {
    const db = new BetterSqlite3(tmp);
    try {
      const has = (t: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !== undefined;
      if (has("fed_log")) db.prepare("DELETE FROM fed_log WHERE type = 'backup-chunk'").run();
      if (has("fed_packets")) db.prepare("UPDATE fed_packets SET body = 'null' WHERE type = 'backup-chunk'").run();
      db.pragma("journal_mode = DELETE");
      db.exec("VACUUM");
    } finally {
      db.close();
    }
    return readFileSync(tmp);
  } finally {
    for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(tmp + suffix, { force: true });
  }
}

const invalid = (why: string) => new SovereignError("FED_MIRROR_INVALID", `The mirrored backup cannot be opened: ${why}.`);

/**
 * Decrypts a mirror bundle with this node's key, checks its checksum and
 * returns the backup's bytes. The owner opens its own mirrors; the holding
 * peer opens one only when `forOwner` names the owner it restores for (the
 * owner lost its disk), so a mix-up of bundles cannot go unnoticed.
 */
export function openMirrorBundle(bundle: unknown, key: EncryptionKey, selfId: string, forOwner?: string): Buffer {
  const b = bundle as Partial<MirrorBundle> | null;
  if (!b || b.format !== "sovereign-backup-mirror" || b.v !== 1 || typeof b.backupId !== "string" || typeof b.sha256 !== "string" || !Array.isArray(b.chunks)) {
    throw invalid("not a mirror bundle");
  }
  const owner = forOwner ?? selfId;
  if (b.owner !== owner) {
    throw invalid(forOwner ? `it belongs to node ${String(b.owner)}, not ${forOwner}` : `it belongs to node ${String(b.owner)}, not this one (a holder restoring for it names it with --for-owner)`);
  }
  if (b.chunks.length === 0 || b.chunks.length !== b.total) throw invalid(`it has ${b.chunks.length} of ${String(b.total)} chunks`);
  const parts: Buffer[] = [];
  for (const [index, sealed] of b.chunks.entries()) {
    try {
      parts.push(openSealed(key, sealed, chunkAad(owner, b.backupId, index, b.total)));
    } catch {
      throw invalid(`chunk ${index} does not decrypt with this node's key (altered, or sealed to other readers)`);
    }
  }
  const data = Buffer.concat(parts);
  if (createHash("sha256").update(data).digest("hex") !== b.sha256) throw invalid("its checksum does not match");
  return data;
}
