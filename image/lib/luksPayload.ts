import { createDecipheriv } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { capture } from "./exec.js";

export interface Luks2Header {
  version: number;
  uuid: string;
  label: string;
  headerSize: number;
  json: {
    keyslots: Record<string, { type: string; kdf?: { type: string; memory?: number; time?: number } }>;
    segments: Record<string, { type: string; offset: string; size: string; encryption: string; sector_size: number; iv_tweak: string }>;
    digests: Record<string, unknown>;
    config: { json_size: string; keyslots_size: string };
  };
}

function readAt(path: string, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const fd = openSync(path, "r");
  try {
    readSync(fd, buf, 0, length, offset);
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** Reads a LUKS2 binary header and its JSON area at `offset` in a file (a partition inside a disk image works too). */
export function readLuks2Header(path: string, offset = 0): Luks2Header {
  const bin = readAt(path, offset, 4096);
  if (bin.subarray(0, 6).compare(Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe])) !== 0) throw new Error("no LUKS magic");
  const version = bin.readUInt16BE(6);
  if (version !== 2) throw new Error(`LUKS version ${version}, expected 2`);
  const headerSize = Number(bin.readBigUInt64BE(8));
  const label = bin.toString("latin1", 24, 72).replace(/\0.*$/s, "");
  const uuid = bin.toString("latin1", 168, 208).replace(/\0.*$/s, "");
  const jsonText = readAt(path, offset + 4096, headerSize - 4096).toString("utf8").replace(/\0.*$/s, "");
  return { version, uuid, label, headerSize, json: JSON.parse(jsonText) as Luks2Header["json"] };
}

/**
 * The volume key, via `cryptsetup luksDump --dump-volume-key` (reads the
 * header only: no device-mapper). `header` is a LUKS2 device or a copy of its
 * first 16 MiB.
 */
export async function dumpVolumeKey(header: string, keyFile: string): Promise<Buffer> {
  const out = await capture("cryptsetup", ["luksDump", "--dump-volume-key", "--batch-mode", "--key-file", keyFile, header]);
  const m = /(?:MK dump|Volume key):\s*([\s\S]*?)(?:\n\S|$)/.exec(out);
  if (!m?.[1]) throw new Error("no volume key in luksDump output");
  return Buffer.from(m[1].replace(/[^0-9a-f]/gi, ""), "hex");
}

/**
 * Decrypts one data sector of an aes-xts-plain64 segment in user space. The
 * IV is plain64 of the sector number counted in 512-byte units (dm-crypt
 * without iv_large_sectors, which is how LUKS2 sets it up).
 */
export function decryptXtsSector(volumeKey: Buffer, ciphertext: Buffer, sectorIndex512: bigint): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64LE(sectorIndex512, 0);
  const algo = volumeKey.length === 64 ? "aes-256-xts" : "aes-128-xts";
  const d = createDecipheriv(algo, volumeKey, iv);
  d.setAutoPadding(false);
  return Buffer.concat([d.update(ciphertext), d.final()]);
}

/**
 * Finds the ext4 superblock inside the encrypted segment: decrypts the first
 * data sector (ext4's superblock is at byte 1024, magic 0xEF53 at +56).
 */
export function ext4MagicInPayload(image: string, header: Luks2Header, volumeKey: Buffer, partitionOffset = 0): { magic: number; blockCount: number; uuid: string } {
  const seg = header.json.segments["0"];
  if (!seg) throw new Error("no segment 0");
  if (seg.encryption !== "aes-xts-plain64") throw new Error(`userspace decryption supports aes-xts-plain64, not ${seg.encryption}`);
  const sector = seg.sector_size;
  const dataOffset = Number(seg.offset);
  const ct = readAt(image, partitionOffset + dataOffset, Math.max(sector, 2048));
  const plain: Buffer[] = [];
  for (let i = 0; i * sector < ct.length; i++) {
    const iv = (BigInt(i * sector) / 512n) + BigInt(seg.iv_tweak ?? "0");
    plain.push(decryptXtsSector(volumeKey, ct.subarray(i * sector, (i + 1) * sector), iv));
  }
  const p = Buffer.concat(plain);
  const sb = p.subarray(1024, 2048);
  const uuidHex = sb.subarray(104, 120).toString("hex");
  return {
    magic: sb.readUInt16LE(56),
    blockCount: sb.readUInt32LE(4),
    uuid: `${uuidHex.slice(0, 8)}-${uuidHex.slice(8, 12)}-${uuidHex.slice(12, 16)}-${uuidHex.slice(16, 20)}-${uuidHex.slice(20)}`,
  };
}
