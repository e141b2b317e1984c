import type { SlotVerity } from "../../core/bootSelection.js";
import { sha256File } from "../../core/fs/sha256File.js";
import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from "node:fs";
import { finished } from "node:stream/promises";
import { encodeBundleHeader, signBundleManifest, type BundleManifest, type BundlePart, type PartTarget } from "../../core/updateBundle.js";

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

/**
 * Packs the parts into one signed bundle at `out` (format: core/updateBundle.ts).
 * Two passes over the inputs: hash (the manifest must be signed before the
 * first part byte is written), then copy. Written as out.partial and renamed,
 * so a failed run leaves no bundle under the final name.
 */
export async function writeBundle(
  out: string,
  meta: { version: string; board: string; createdAt?: string; verity?: SlotVerity },
  inputs: readonly BundleInput[],
  secretKey: Uint8Array,
  onProgress?: (phase: "hash" | "write", doneBytes: number, totalBytes: number) => void,
): Promise<BundleWriteResult> {
  const sizes = inputs.map((i) => statSync(i.path).size);
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  const parts: BundlePart[] = [];
  let offset = 0;
  for (const [i, input] of inputs.entries()) {
    const size = sizes[i] ?? 0;
    const sha256 = await sha256File(input.path, (n) => {
      done += n;
      onProgress?.("hash", done, total);
    });
    parts.push({ name: input.name, target: input.target, size, sha256, offset });
    offset += size;
  }
  const manifest: BundleManifest = { schema: 1, version: meta.version, board: meta.board, createdAt: meta.createdAt ?? new Date().toISOString(), parts, ...(meta.verity ? { verity: meta.verity } : {}) };
  const envelope = signBundleManifest(manifest, secretKey);
  const partial = `${out}.partial`;
  const ws = createWriteStream(partial, { mode: 0o644 });
  try {
    const write = (b: Buffer): Promise<void> => (ws.write(b) ? Promise.resolve() : new Promise((r) => ws.once("drain", () => r())));
    await write(encodeBundleHeader(envelope));
    done = 0;
    for (const input of inputs) {
      for await (const chunk of createReadStream(input.path, { highWaterMark: 4 * 1024 * 1024 })) {
        await write(chunk as Buffer);
        done += (chunk as Buffer).length;
        onProgress?.("write", done, total);
      }
    }
    ws.end();
    await finished(ws);
    const bytes = statSync(partial).size;
    renameSync(partial, out);
    return { path: out, bytes, manifest, publicKey: envelope.publicKey ?? "" };
  } catch (err) {
    ws.destroy();
    rmSync(partial, { force: true });
    throw err;
  }
}
