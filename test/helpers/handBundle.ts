import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import type { SlotVerity } from "../../core/bootSelection.js";
import { encodeBundleHeader, signBundleManifest, type BundleManifest, type BundlePart, type PartTarget } from "../../core/updateBundle.js";

/** One part of a hand-made bundle: its stored bytes, and what its manifest entry claims. */
export interface HandPart {
  name: string;
  target: PartTarget;
  stored: Buffer;
  encoding?: "gzip";
  /** Defaults to what the stored bytes really are (gunzipped, for a gzip part). */
  size?: number;
  sha256?: string;
}

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/**
 * A bundle written byte by byte, not by writeBundle, and signed with `key`: so
 * a test can give a signed manifest claims its builder would never make (a
 * gzip part that unpacks to more than its size).
 */
export function handBundle(out: string, meta: { version: string; board: string; verity?: SlotVerity }, parts: readonly HandPart[], key: Uint8Array): BundleManifest {
  let offset = 0;
  const entries: BundlePart[] = parts.map((p) => {
    // Only when a claim is left out: bytes that are not gzip at all must name both.
    const real = (): Buffer => (p.encoding ? gunzipSync(p.stored) : p.stored);
    const entry: BundlePart = {
      name: p.name, target: p.target, size: p.size ?? real().length, sha256: p.sha256 ?? sha256(real()), offset,
      ...(p.encoding ? { encoding: p.encoding, storedSize: p.stored.length, storedSha256: sha256(p.stored) } : {}),
    };
    offset += p.stored.length;
    return entry;
  });
  const manifest: BundleManifest = { schema: 1, version: meta.version, board: meta.board, createdAt: "2026-12-05T00:00:00.000Z", parts: entries, ...(meta.verity ? { verity: meta.verity } : {}) };
  writeFileSync(out, Buffer.concat([encodeBundleHeader(signBundleManifest(manifest, key)), ...parts.map((p) => p.stored)]));
  return manifest;
}
