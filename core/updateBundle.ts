import type { SlotVerity } from "./bootSelection.js";
import { canonicalBytes } from "./canonicalJson.js";
import { publicKeyOf, sign } from "./ed25519.js";

/**
 * The update bundle's byte format, shared by its writer (image/, on the build
 * host) and its verifier (services/update, on the node):
 *
 *   "SOVUPD01"            8 bytes, magic and format version
 *   header length         4 bytes, unsigned big-endian
 *   header                UTF-8 canonical JSON: { manifest, signature, publicKey }
 *   parts                 the parts' stored bytes back to back; a part's `offset` counts from here
 *
 * A part is stored raw, or with `encoding: "gzip"` (one gzip stream, RFC 1952).
 * `size` and `sha256` are always the bytes that land on the target (what the
 * slot writer reads back); a gzip part also has `storedSize` and
 * `storedSha256`, the bytes as they lie in the bundle, and its `offset` and
 * the file's length count those. A raw part's stored bytes are its bytes, so
 * a bundle from before compression reads the same.
 *
 * The signature is ed25519 over "sovereign-update-v1\n" + the canonical JSON
 * of the manifest, so it covers every part's size, offset, hashes and encoding.
 */
export const BUNDLE_MAGIC = Buffer.from("SOVUPD01", "ascii");
export const PREAMBLE_BYTES = BUNDLE_MAGIC.length + 4;
const SIGNING_PREFIX = Buffer.from("sovereign-update-v1\n", "utf8");

/** Where a part goes: "root" is streamed raw into the slot's device; "boot" is a file in the slot's boot directory. */
export type PartTarget = "root" | "boot";

/**
 * The boot part that is a whole FAT image of a slot's own boot partition (Raspberry Pi A/B; slot-agnostic: its
 * config.txt picks the slot's cmdline by [boot_partition=N]). The builder names it, the node writes it raw.
 */
export const BOOT_IMAGE_PART = "boot.vfat";

/** How a part's bytes are stored in the bundle; a part without one is raw. */
export type PartEncoding = "gzip";

export interface BundlePart {
  name: string;
  target: PartTarget;
  /** Bytes written to the target (after decompression). */
  size: number;
  /** sha256 of the bytes written to the target. */
  sha256: string;
  /** Byte offset of the stored bytes from the start of the parts area. */
  offset: number;
  /** Absent: stored raw (storedSize = size). */
  encoding?: PartEncoding;
  /** Bytes in the bundle; present exactly when `encoding` is. */
  storedSize?: number;
  /** sha256 of the bytes in the bundle; present exactly when `encoding` is. */
  storedSha256?: string;
}

/** Bytes the part takes in the bundle. */
export function storedSizeOf(part: BundlePart): number {
  return part.encoding ? (part.storedSize ?? 0) : part.size;
}

/** sha256 of the bytes the part takes in the bundle. */
export function storedSha256Of(part: BundlePart): string {
  return part.encoding ? (part.storedSha256 ?? "") : part.sha256;
}

export interface BundleManifest {
  schema: 1;
  version: string;
  board: string;
  createdAt: string;
  parts: BundlePart[];
  /**
   * The root part's dm-verity (its hash tree follows the filesystem inside the part): signed with the rest,
   * it becomes the new slot's kernel options. Absent in bundles built before slots were verity-checked.
   */
  verity?: SlotVerity;
}

/** The signed header: the manifest, its signature (base64) and the signer's public key (hex). */
export interface BundleEnvelope {
  manifest: BundleManifest;
  signature?: string;
  publicKey?: string;
}

export function bundleSigningInput(manifest: BundleManifest): Buffer {
  return Buffer.concat([SIGNING_PREFIX, canonicalBytes(manifest)]);
}

export function signBundleManifest(manifest: BundleManifest, secretKey: Uint8Array): BundleEnvelope {
  return {
    manifest,
    signature: Buffer.from(sign(bundleSigningInput(manifest), secretKey)).toString("base64"),
    publicKey: Buffer.from(publicKeyOf(secretKey)).toString("hex"),
  };
}

/** Magic, header length and header bytes, as they start the file. */
export function encodeBundleHeader(envelope: BundleEnvelope): Buffer {
  const header = canonicalBytes(envelope);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(header.length);
  return Buffer.concat([BUNDLE_MAGIC, len, header]);
}
