import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

/** A file and its gzip copy, measured in the one pass that made the copy. */
export interface GzipResult {
  size: number;
  sha256: string;
  storedSize: number;
  storedSha256: string;
}

/**
 * Gzips `path` into `dest` (0600), hashing the input and the output on the way:
 * one read of the input, memory bounded by the stream buffers whatever its size.
 * `onBytes` sees each input read, for progress.
 */
export async function gzipFile(path: string, dest: string, level: number, onBytes?: (n: number) => void): Promise<GzipResult> {
  const raw = createHash("sha256");
  const stored = createHash("sha256");
  let size = 0;
  let storedSize = 0;
  await pipeline(
    createReadStream(path, { highWaterMark: 4 * 1024 * 1024 }),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        raw.update(chunk);
        size += chunk.length;
        onBytes?.(chunk.length);
        yield chunk;
      }
    },
    // Output in 256 KiB pieces rather than zlib's 16 KiB: fewer writes, same bytes.
    createGzip({ level, chunkSize: 256 * 1024 }),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        stored.update(chunk);
        storedSize += chunk.length;
        yield chunk;
      }
    },
    createWriteStream(dest, { mode: 0o600 }),
  );
  return { size, sha256: raw.digest("hex"), storedSize, storedSha256: stored.digest("hex") };
}
