import { createHash } from "node:crypto";
import type { SlotVerity } from "../../core/bootSelection.js";
import { sha256File } from "../../core/fs/sha256File.js";
import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { encodeBundleHeader, signBundleManifest, storedSha256Of, type BundleManifest, type BundlePart, type PartTarget } from "../../core/updateBundle.js";
import { gzipFile } from "./gzipFile.js";

/** One file to put in a bundle: its name there, where the node writes it, and where it is on the build host. */
export interface BundleInput {
  name: string;
  target: PartTarget;
  path: string;
}

export interface BundleWriteResult {
  path: string;
  bytes: number;
  manifest: BundleManifest;
  publicKey: string;
}

export interface BundleWriteOptions {
  /**
   * "gzip" stores each part gzipped where that makes it smaller (an ext4 root measured 0.30 to 0.35 of its size),
   * and raw where it does not (bytes compressed already); "none" stores every part raw, as bundles were before.
   * Defaults to "gzip".
   */
  compress?: "gzip" | "none";
  /**
   * zlib level of gzip parts. Defaults to 6: on a 1.2 GB ext4 with its verity tree (2 cores), 6 took 26 s for 0.304 of
   * the size; 9 took 99 s for 0.303, 1 took 12 s for 0.330.
   */
  level?: number;
  /** "hash" counts input bytes read (hashed and compressed), "write" the bundle's part bytes written. */
  onProgress?: (phase: "hash" | "write", doneBytes: number, totalBytes: number) => void;
}

/** A part as it will lie in the bundle, and the file its stored bytes come from. */
interface Packed {
  part: Omit<BundlePart, "offset">;
  from: string;
}

/** Hashes one input and, when asked, gzips it into `tmp`; keeps the gzip only if it is smaller. */
async function pack(input: BundleInput, tmp: string, o: BundleWriteOptions, onBytes: (n: number) => void): Promise<Packed> {
  const base = { name: input.name, target: input.target };
  if (o.compress === "none") {
    const sha256 = await sha256File(input.path, onBytes);
    return { part: { ...base, size: statSync(input.path).size, sha256 }, from: input.path };
  }
  const gz = await gzipFile(input.path, tmp, o.level ?? 6, onBytes);
  if (gz.storedSize >= gz.size) {
    rmSync(tmp, { force: true });
    return { part: { ...base, size: gz.size, sha256: gz.sha256 }, from: input.path };
  }
  return { part: { ...base, size: gz.size, sha256: gz.sha256, encoding: "gzip", storedSize: gz.storedSize, storedSha256: gz.storedSha256 }, from: tmp };
}

/**
 * Packs the parts into one signed bundle at `out` (format: core/updateBundle.ts).
 * Two passes over the inputs: hash and compress each into a temp file beside
 * `out` (the manifest must be signed before the first part byte is written,
 * and it names the stored sizes and hashes), then copy the stored bytes in,
 * hashing them again so the bundle holds what was signed. Written as
 * out.partial and renamed, so a failed run leaves no bundle under the final
 * name; the temp files go either way.
 */
export async function writeBundle(
  out: string,
  meta: { version: string; board: string; createdAt?: string; verity?: SlotVerity },
  inputs: readonly BundleInput[],
  secretKey: Uint8Array,
  options: BundleWriteOptions = {},
): Promise<BundleWriteResult> {
  const onProgress = options.onProgress;
  const partial = `${out}.partial`;
  const temps = inputs.map((_, i) => `${partial}.${i}.gz`);
  try {
    const total = inputs.reduce((s, i) => s + statSync(i.path).size, 0);
    let done = 0;
    const packed: Packed[] = [];
    for (const [i, input] of inputs.entries()) {
      packed.push(await pack(input, temps[i] ?? "", options, (n) => {
        done += n;
        onProgress?.("hash", done, total);
      }));
    }
    let offset = 0;
    const parts: BundlePart[] = packed.map((p) => {
      const part: BundlePart = { ...p.part, offset };
      offset += p.part.storedSize ?? p.part.size;
      return part;
    });
    const manifest: BundleManifest = { schema: 1, version: meta.version, board: meta.board, createdAt: meta.createdAt ?? new Date().toISOString(), parts, ...(meta.verity ? { verity: meta.verity } : {}) };
    const envelope = signBundleManifest(manifest, secretKey);
    done = 0;
    // pipeline() carries an error either way: a full disk ends the reading, a changed input ends the writing.
    await pipeline(async function* () {
      yield encodeBundleHeader(envelope);
      for (const [i, p] of packed.entries()) {
        const hash = createHash("sha256");
        for await (const chunk of createReadStream(p.from, { highWaterMark: 4 * 1024 * 1024 })) {
          hash.update(chunk as Buffer);
          done += (chunk as Buffer).length;
          onProgress?.("write", done, offset);
          yield chunk as Buffer;
        }
        // An input rewritten since it was hashed would make a bundle no node accepts: say so here instead.
        if (hash.digest("hex") !== storedSha256Of(parts[i] as BundlePart)) throw new Error(`${p.from} changed while the bundle was being written; run the bundle again`);
      }
    }, createWriteStream(partial, { mode: 0o644 }));
    const bytes = statSync(partial).size;
    renameSync(partial, out);
    return { path: out, bytes, manifest, publicKey: envelope.publicKey ?? "" };
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  } finally {
    for (const t of temps) rmSync(t, { force: true });
  }
}
