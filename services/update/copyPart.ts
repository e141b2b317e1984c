import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import type { BundlePart } from "./bundleFormat.js";
import { hashStoredPart, storedChunks, type OpenedBundle } from "./bundleReader.js";

/** What copying one part saw: the sha256 of its stored bytes and of what went to the target, or why it did not unpack. */
export interface PartCopy {
  storedSha256: string;
  /** sha256 of the bytes handed to the sink; "" when the part did not unpack. */
  sha256: string;
  /** Bytes handed to the sink, never more than the part's size. */
  bytes: number;
  /** Why a gzip part did not unpack to exactly its size (more, fewer, or not gzip); null when it did, or is raw. */
  unpackFailure: string | null;
}

/** Big output chunks: each is one write to the device, and 16 KiB writes (zlib's default) cost a syscall round trip each. */
const OUT_CHUNK = 1024 * 1024;

class Overflow extends Error {}

/** zlib's own errors (a stream that is not gzip, a bad CRC or length): they carry a Z_* code. */
const isZlibError = (err: unknown): err is Error & { code: string } => err instanceof Error && /^Z_/.test(String((err as NodeJS.ErrnoException).code));

/**
 * Streams one part of an opened bundle into `sink` as the target gets it: a
 * raw part's stored bytes as they are, a gzip part's through gunzip, hashing
 * both sides. The sink never gets more than the part's signed size: the bytes
 * past it (a decompression bomb, even a signed one) are refused before they
 * are handed on. A part that does not unpack is reported, not thrown, with its
 * stored bytes hashed again in full, so the caller can tell a bundle that
 * changed under it from a signed part that was built wrong. Reading and sink
 * errors are thrown.
 */
export async function copyPart(
  fh: FileHandle,
  bundle: OpenedBundle,
  part: BundlePart,
  sink: (chunk: Buffer, offsetInPart: number) => Promise<void>,
  onWritten: (bytes: number) => void,
): Promise<PartCopy> {
  const stored = createHash("sha256");
  if (!part.encoding) {
    let at = 0;
    for await (const chunk of storedChunks(fh, bundle, part, stored, () => undefined)) {
      await sink(chunk, at);
      at += chunk.length;
      onWritten(chunk.length);
    }
    const sha256 = stored.digest("hex");
    return { storedSha256: sha256, sha256, bytes: at, unpackFailure: null };
  }
  const out = createHash("sha256");
  let at = 0;
  let unpackFailure: string | null = null;
  // What ended the consuming loop: pipeline() itself rejects with an AbortError when the destination throws.
  let cause: unknown = null;
  try {
    await pipeline(
      // Two chunks read ahead at most: memory stays bounded whatever the part's size.
      Readable.from(storedChunks(fh, bundle, part, stored, () => undefined), { highWaterMark: 2 }),
      createGunzip({ chunkSize: OUT_CHUNK }),
      async (source: AsyncIterable<Buffer>) => {
        try {
          for await (const chunk of source) {
            if (at + chunk.length > part.size) throw new Overflow();
            out.update(chunk);
            await sink(chunk, at);
            at += chunk.length;
            onWritten(chunk.length);
          }
        } catch (err) {
          cause = err;
          throw err;
        }
      },
    );
    if (at !== part.size) unpackFailure = `it unpacks to ${at} bytes, short of its signed ${part.size}`;
  } catch (err) {
    const e = cause ?? err;
    if (e instanceof Overflow) unpackFailure = `it unpacks to more than its signed ${part.size} bytes`;
    else if (isZlibError(e)) unpackFailure = `it is not a whole gzip stream (${e.code}: ${e.message})`;
    else throw e;
  }
  if (unpackFailure) return { storedSha256: await hashStoredPart(fh, bundle, part, () => undefined), sha256: "", bytes: at, unpackFailure };
  return { storedSha256: stored.digest("hex"), sha256: out.digest("hex"), bytes: at, unpackFailure: null };
}
