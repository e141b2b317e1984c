import { createHash, type Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { headerLength, parseEnvelope, PREAMBLE_BYTES, storedSizeOf, verifyEnvelope, type BundleEnvelope, type BundleManifest, type BundlePart, type VerifyPolicy } from "./bundleFormat.js";

export type ProgressPhase = "verify" | "write" | "readback";
/**
 * Bytes done and in all of a phase: "verify" and "write" count the bytes the parts unpack to (what goes to the
 * slot, more than a compressed part stores), "readback" the bytes read back from the slot.
 */
export type OnProgress = (phase: ProgressPhase, doneBytes: number, totalBytes: number) => void;

const CHUNK = 4 * 1024 * 1024;

/** A bundle whose header has been read and checked, and where its parts start in the file. */
export interface OpenedBundle {
  envelope: BundleEnvelope;
  manifest: BundleManifest;
  partsStart: number;
  fileSize: number;
}

async function readExactly(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/** A bundle file's first bytes (magic, header length, header) and the header parsed; nothing is verified yet. */
export async function readBundleHead(fh: FileHandle): Promise<{ head: Buffer; envelope: BundleEnvelope }> {
  const preamble = await readExactly(fh, PREAMBLE_BYTES, 0);
  const n = headerLength(preamble);
  const header = await readExactly(fh, n, PREAMBLE_BYTES);
  if (header.length < n) throw new SovereignError("UPDATE_BUNDLE_TRUNCATED", `The bundle ends inside its header (${PREAMBLE_BYTES + header.length} bytes).`);
  return { head: Buffer.concat([preamble, header]), envelope: parseEnvelope(header) };
}

/** Reads the header and applies every check that needs no part bytes (signature, key, board, size, version). */
export async function openBundle(fh: FileHandle, policy: VerifyPolicy): Promise<OpenedBundle> {
  const fileSize = (await fh.stat()).size;
  const { head, envelope } = await readBundleHead(fh);
  const n = head.length - PREAMBLE_BYTES;
  const manifest = verifyEnvelope(envelope, n, fileSize, policy);
  return { envelope, manifest, partsStart: head.length, fileSize };
}

/**
 * One part's stored bytes from the bundle, in chunks of at most 4 MiB, each
 * passed to `hash` before it is yielded. Each chunk is its own buffer, so a
 * consumer (gunzip) may keep it while the next is read.
 */
export async function* storedChunks(fh: FileHandle, bundle: OpenedBundle, part: BundlePart, hash: Hash, onChunk: (bytes: number) => void): AsyncGenerator<Buffer> {
  const size = storedSizeOf(part);
  let done = 0;
  while (done < size) {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - done));
    const { bytesRead } = await fh.read(buf, 0, buf.length, bundle.partsStart + part.offset + done);
    if (bytesRead === 0) throw new SovereignError("UPDATE_BUNDLE_TRUNCATED", `The bundle ended inside part ${part.name}.`);
    const chunk = buf.subarray(0, bytesRead);
    hash.update(chunk);
    done += bytesRead;
    onChunk(bytesRead);
    yield chunk;
  }
}

/** The sha256 of one part's stored bytes, as the verify pass reads them. */
export async function hashStoredPart(fh: FileHandle, bundle: OpenedBundle, part: BundlePart, onChunk: (bytes: number) => void): Promise<string> {
  const hash = createHash("sha256");
  for await (const _ of storedChunks(fh, bundle, part, hash, onChunk));
  return hash.digest("hex");
}
