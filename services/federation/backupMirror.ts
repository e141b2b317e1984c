import { createHash, randomUUID } from "node:crypto";
import { SovereignError } from "../../appliance/errors/SovereignError.js";
import { openSealed, sealTo, type EncryptionKey, type SealedChunk } from "./backupCrypto.js";
import type { FederationStore } from "./FederationStore.js";
import type { FederationService } from "./FederationService.js";

export interface BackupChunkBody {
  backupId: string;
  name: string;
  index: number;
  total: number;
  size: number;
  /** sha256 of the whole plaintext backup, checked after reassembly. */
  sha256: string;
  sealed: SealedChunk;
}

/**
 * Mirrors a backup to every core peer that announced an encryption key: the
 * bytes are cut into chunks that fit a packet, each sealed to that peer's
 * X25519 key, and sent as "backup-chunk" packets addressed to it alone, each
 * depending on the one before, so a peer applies them in order.
 */
export function mirrorBackup(fed: FederationService, data: Buffer, name: string, maxPayloadBytes: number): Array<{ peer: string; backupId: string; chunks: number }> {
  const peers = fed.peersIn("core").filter((p) => p.encryptionKey);
  if (peers.length === 0) throw new SovereignError("FED_BACKUP_NO_CORE_PEER");
  // Base64 grows 4/3, plus the packet's own JSON: leave a generous margin.
  const chunkBytes = Math.max(1024, Math.floor(((maxPayloadBytes - 4096) * 3) / 4 / 1.05));
  const total = Math.max(1, Math.ceil(data.length / chunkBytes));
  const sha256 = createHash("sha256").update(data).digest("hex");
  const out: Array<{ peer: string; backupId: string; chunks: number }> = [];
  for (const peer of peers) {
    const backupId = randomUUID();
    let prev: string | undefined;
    for (let index = 0; index < total; index++) {
      const aad = { backupId, index, total, to: peer.nodeId };
      const sealed = sealTo(peer.encryptionKey!, data.subarray(index * chunkBytes, (index + 1) * chunkBytes), aad);
      const body: BackupChunkBody = { backupId, name, index, total, size: data.length, sha256, sealed };
      const [packet] = fed.publish([{ type: "backup-chunk", body, to: peer.nodeId, ...(prev ? { deps: [prev] } : {}) }]);
      prev = packet!.id;
    }
    out.push({ peer: peer.nodeId, backupId, chunks: total });
  }
  return out;
}

/** On the receiving peer: the mirrored backups it holds, as ciphertext, by author. */
export function mirroredBackups(store: FederationStore, author: string): Array<{ backupId: string; name: string; chunks: number; total: number; size: number }> {
  const by = new Map<string, { backupId: string; name: string; chunks: number; total: number; size: number }>();
  for (const row of store.packetsFrom(author)) {
    if (row.type !== "backup-chunk") continue;
    const b = JSON.parse(row.body) as BackupChunkBody;
    const e = by.get(b.backupId) ?? { backupId: b.backupId, name: b.name, chunks: 0, total: b.total, size: b.size };
    e.chunks++;
    by.set(b.backupId, e);
  }
  return [...by.values()];
}

/** Reassembles and decrypts a mirrored backup with this node's key (for restoring it to its owner). */
export function openMirroredBackup(store: FederationStore, key: EncryptionKey, selfId: string, author: string, backupId: string): Buffer {
  const chunks = store
    .packetsFrom(author)
    .filter((r) => r.type === "backup-chunk")
    .map((r) => JSON.parse(r.body) as BackupChunkBody)
    .filter((b) => b.backupId === backupId)
    .sort((a, b) => a.index - b.index);
  const total = chunks[0]?.total ?? 0;
  if (chunks.length === 0 || chunks.length !== total) throw new Error(`backup ${backupId} is incomplete (${chunks.length}/${total} chunks)`);
  const data = Buffer.concat(chunks.map((b) => openSealed(key, b.sealed, { backupId, index: b.index, total, to: selfId })));
  if (createHash("sha256").update(data).digest("hex") !== chunks[0]!.sha256) throw new Error(`backup ${backupId} does not match its checksum`);
  return data;
}
