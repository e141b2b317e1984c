import { VERITY_BLOCK_BYTES, type SlotVerity } from "../../core/bootSelection.js";
import { verify } from "../../core/ed25519.js";
import { BUNDLE_MAGIC, bundleSigningInput, PREAMBLE_BYTES, storedSizeOf, type BundleEnvelope, type BundleManifest, type BundlePart } from "../../core/updateBundle.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { compareVersions } from "../../core/compareVersions.js";
import "./errors.js";

/**
 * Reading the update bundle (format in core/updateBundle.ts). This module
 * is pure (bytes in, verdicts out); reading files and writing slots is in
 * bundleReader.ts and slotWriter.ts.
 */
export { BUNDLE_MAGIC, PREAMBLE_BYTES, encodeBundleHeader, signBundleManifest, storedSha256Of, storedSizeOf, type BundleEnvelope, type BundleManifest, type BundlePart, type PartEncoding, type PartTarget } from "../../core/updateBundle.js";

/** Enough for any real manifest; a bigger length is a malformed file, not a reason to allocate. */
export const MAX_HEADER_BYTES = 1024 * 1024;

export interface VerifyPolicy {
  /** Accepted public keys, 64 hex digits each. */
  trustedKeys: readonly string[];
  board: string;
  runningVersion: string;
  allowDowngrade?: boolean;
}

/** The header's length from the first 12 bytes of a file. */
export function headerLength(preamble: Buffer): number {
  if (preamble.length < PREAMBLE_BYTES || !preamble.subarray(0, BUNDLE_MAGIC.length).equals(BUNDLE_MAGIC)) {
    throw new SovereignError("UPDATE_BUNDLE_MALFORMED", "This file is not a Sovereign update bundle (no SOVUPD01 magic).");
  }
  const n = preamble.readUInt32BE(BUNDLE_MAGIC.length);
  if (n < 2 || n > MAX_HEADER_BYTES) throw new SovereignError("UPDATE_BUNDLE_MALFORMED", `The bundle header claims ${n} bytes (at most ${MAX_HEADER_BYTES}).`);
  return n;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const malformed = (why: string): SovereignError => new SovereignError("UPDATE_BUNDLE_MALFORMED", `The bundle manifest is malformed: ${why}.`);

/** The manifest's verity, if present: a 64-hex root hash and a 4 KiB-aligned hash offset inside the root part. */
function parseVerity(v: unknown, rootSize: number): SlotVerity | null {
  if (v === undefined) return null;
  if (!isObject(v)) throw malformed("verity must be an object");
  const { rootHash, hashOffset } = v;
  if (typeof rootHash !== "string" || !HEX64.test(rootHash)) throw malformed("verity.rootHash must be 64 hex digits");
  // The tree (at least its superblock and one hash block) lies inside the root part, after the filesystem.
  if (typeof hashOffset !== "number" || !Number.isSafeInteger(hashOffset) || hashOffset <= 0 || hashOffset % VERITY_BLOCK_BYTES !== 0 || hashOffset + 2 * VERITY_BLOCK_BYTES > rootSize)
    throw malformed(`verity.hashOffset must be a multiple of ${VERITY_BLOCK_BYTES} inside the root part (${rootSize} bytes)`);
  return { rootHash, hashOffset };
}

const isByteCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * A part's encoding and stored size and hash: all three or none (raw). Rebuilt
 * field by field, because the signature is checked over what this returns.
 */
function parseStored(p: Record<string, unknown>, name: string): Pick<BundlePart, "encoding" | "storedSize" | "storedSha256"> {
  const { encoding, storedSize, storedSha256 } = p;
  if (encoding === undefined) {
    if (storedSize !== undefined || storedSha256 !== undefined) throw malformed(`part ${name}: storedSize and storedSha256 belong to an encoded part`);
    return {};
  }
  if (encoding !== "gzip") throw malformed(`part ${name}: encoding must be "gzip" or absent`);
  if (!isByteCount(storedSize)) throw malformed(`part ${name}: storedSize must be a whole number of bytes`);
  if (typeof storedSha256 !== "string" || !HEX64.test(storedSha256)) throw malformed(`part ${name}: storedSha256 must be 64 hex digits`);
  return { encoding, storedSize, storedSha256 };
}

/** Parses and shape-checks the header JSON; nothing is trusted yet. */
export function parseEnvelope(header: Buffer): BundleEnvelope {
  let raw: unknown;
  try {
    raw = JSON.parse(header.toString("utf8"));
  } catch {
    throw malformed("the header is not JSON");
  }
  if (!isObject(raw) || !isObject(raw.manifest)) throw malformed("no manifest");
  const m = raw.manifest;
  if (m.schema !== 1) throw malformed(`schema ${String(m.schema)} is not 1`);
  for (const k of ["version", "board", "createdAt"] as const) if (typeof m[k] !== "string" || m[k].length === 0 || m[k].length > 128) throw malformed(`${k} must be a short string`);
  if (!Array.isArray(m.parts) || m.parts.length === 0 || m.parts.length > 64) throw malformed("parts must list 1 to 64 parts");
  let expectOffset = 0;
  const names = new Set<string>();
  const parts: BundlePart[] = m.parts.map((p: unknown, i: number) => {
    if (!isObject(p)) throw malformed(`part ${i} is not an object`);
    const { name, target, size, sha256, offset } = p;
    if (typeof name !== "string" || !NAME.test(name) || names.has(name)) throw malformed(`part ${i} has a bad or repeated name`);
    names.add(name);
    if (target !== "root" && target !== "boot") throw malformed(`part ${name}: target must be "root" or "boot"`);
    if (!isByteCount(size)) throw malformed(`part ${name}: size must be a whole number of bytes`);
    if (typeof sha256 !== "string" || !HEX64.test(sha256)) throw malformed(`part ${name}: sha256 must be 64 hex digits`);
    const stored = parseStored(p, name);
    // Parts lie back to back in manifest order: no gaps, no overlaps, nothing unsigned in between.
    if (offset !== expectOffset) throw malformed(`part ${name}: offset ${String(offset)} should be ${expectOffset}`);
    const part: BundlePart = { name, target, size, sha256, offset, ...stored };
    expectOffset += storedSizeOf(part);
    return part;
  });
  const roots = parts.filter((p) => p.target === "root");
  if (roots.length !== 1) throw malformed("exactly one part must target the root slot");
  const verity = parseVerity(m.verity, roots[0]?.size ?? 0);
  const manifest: BundleManifest = { schema: 1, version: m.version as string, board: m.board as string, createdAt: m.createdAt as string, parts, ...(verity ? { verity } : {}) };
  return {
    manifest,
    ...(typeof raw.signature === "string" ? { signature: raw.signature } : {}),
    ...(typeof raw.publicKey === "string" ? { publicKey: raw.publicKey } : {}),
  };
}

/** Bytes of the whole bundle its manifest describes (parts as stored). */
export function bundleSize(headerBytes: number, manifest: BundleManifest): number {
  return PREAMBLE_BYTES + headerBytes + manifest.parts.reduce((s, p) => s + storedSizeOf(p), 0);
}

export { compareVersions };

/**
 * Everything that can be decided from the header and the file size: the
 * signature, the key, the board, the version and the length. Part hashes are
 * checked while streaming (bundleReader.ts). Throws the first refusal.
 */
export function verifyEnvelope(envelope: BundleEnvelope, headerBytes: number, fileSize: number, policy: VerifyPolicy): BundleManifest {
  const { manifest } = envelope;
  if (!envelope.signature || !envelope.publicKey) throw new SovereignError("UPDATE_SIGNATURE_MISSING", "The bundle has no signature.");
  const key = envelope.publicKey.toLowerCase();
  const trusted = policy.trustedKeys.map((k) => k.trim().toLowerCase());
  if (!trusted.includes(key)) {
    throw new SovereignError("UPDATE_KEY_UNTRUSTED", `The bundle is signed by key ${key.slice(0, 16)}…, which is not among this node's ${trusted.length} trusted update key(s).`, { details: { publicKey: key } });
  }
  const sig = Buffer.from(envelope.signature, "base64");
  if (sig.length !== 64 || !verify(sig, bundleSigningInput(manifest), Buffer.from(key, "hex"))) {
    throw new SovereignError("UPDATE_SIGNATURE_INVALID", "The bundle's signature does not verify against its manifest.");
  }
  if (manifest.board !== policy.board) {
    throw new SovereignError("UPDATE_WRONG_BOARD", `The bundle is for board ${manifest.board}; this node is ${policy.board}.`, { details: { bundle: manifest.board, node: policy.board } });
  }
  const expected = bundleSize(headerBytes, manifest);
  if (fileSize !== expected) {
    throw new SovereignError("UPDATE_BUNDLE_TRUNCATED", `The bundle is ${fileSize} bytes; its manifest describes ${expected}.`, { details: { actual: fileSize, expected } });
  }
  if (!policy.allowDowngrade && compareVersions(manifest.version, policy.runningVersion) < 0) {
    throw new SovereignError("UPDATE_DOWNGRADE", `The bundle is version ${manifest.version}, older than the running ${policy.runningVersion}.`, { details: { bundle: manifest.version, running: policy.runningVersion } });
  }
  return manifest;
}
