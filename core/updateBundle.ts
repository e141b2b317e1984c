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
 *   parts                 the parts' bytes back to back; a part's `offset` counts from here
 *
 * The signature is ed25519 over "sovereign-update-v1\n" + the canonical JSON
 * of the manifest, so it covers every part's size, offset and sha256.
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

export interface BundlePart {
  name: string;
  target: PartTarget;
  size: number;
  sha256: string;
  /** Byte offset from the start of the parts area. */
  offset: number;
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
