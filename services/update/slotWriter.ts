import { createHash } from "node:crypto";
import { readFileSync, realpathSync } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { canonicalJson } from "../../core/canonicalJson.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { BundleManifest, VerifyPolicy } from "./bundleFormat.js";
import { openBundle, streamPart, verifyBundleFile, type OnProgress } from "./bundleReader.js";

/** Where one slot's parts go: its root device (or file) and the directory that receives its boot files. */
export interface SlotTarget {
  root: string;
  bootFiles: string | null;
}

export interface WriteResult {
  manifest: BundleManifest;
  bytesWritten: number;
  /** sha256 of the root part as read back from the slot. */
  rootReadback: string;
}

/** A block device's size from sysfs; a plain file (tests) may grow, so it has no limit. */
function capacityOf(path: string, isBlock: boolean): number | null {
  if (!isBlock) return null;
  try {
    const dev = basename(realpathSync(path));
    return Number(readFileSync(`/sys/class/block/${dev}/size`, "utf8").trim()) * 512;
  } catch {
    return null;
  }
}

async function hashRange(path: string, length: number): Promise<string> {
  const fh = await open(path, "r");
  try {
    const hash = createHash("sha256");
    const buf = Buffer.alloc(4 * 1024 * 1024);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, length - done), done);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      done += bytesRead;
    }
    return hash.digest("hex");
  } finally {
    await fh.close();
  }
}

/**
 * Verify pass, then write pass: the bundle is read twice and never copied.
 * The first pass checks the header and hashes every part without touching the
 * slot. The second streams the parts into the slot while hashing them again;
 * if any part reads differently from the first pass (the file changed, or the
 * medium returns other bytes), or the root reads back differently from the
 * slot, it throws UPDATE_WRITE_MISMATCH and the caller never marks the slot
 * bootable.
 */
export async function writeBundleToSlot(
  path: string,
  policy: VerifyPolicy,
  slot: SlotTarget,
  hooks: { onProgress?: OnProgress; onVerified?: (manifest: BundleManifest) => void } = {},
): Promise<WriteResult> {
  const onProgress = hooks.onProgress;
  const verified = await verifyBundleFile(path, policy, onProgress);
  const manifest = verified.manifest;
  // Past this line the slot is about to change: the caller records it as incomplete first.
  hooks.onVerified?.(manifest);
  const root = manifest.parts.find((p) => p.target === "root");
  if (!root) throw new Error("a verified manifest always has a root part");
  const slotFh = await open(slot.root, "r+");
  const fh = await open(path, "r");
  const total = manifest.parts.reduce((s, p) => s + p.size, 0);
  let done = 0;
  const mismatch = (what: string): SovereignError =>
    new SovereignError("UPDATE_WRITE_MISMATCH", `${what}; slot ${slot.root} was not marked bootable.`, { details: { slot: slot.root } });
  try {
    const st = await slotFh.stat();
    const capacity = capacityOf(slot.root, st.isBlockDevice());
    if (capacity !== null && root.size > capacity) {
      throw new SovereignError("UPDATE_SLOT_TOO_SMALL", `The root filesystem is ${root.size} bytes; slot ${slot.root} holds ${capacity}.`);
    }
    const again = await openBundle(fh, policy);
    if (canonicalJson(again.manifest) !== canonicalJson(manifest)) throw mismatch("The bundle's manifest changed between the verify and the write pass");
    for (const part of manifest.parts) {
      const tick = (b: number): void => {
        done += b;
        onProgress?.("write", done, total);
      };
      if (part.target === "root") {
        const got = await streamPart(fh, again, part, async (chunk, at) => {
          await slotFh.write(chunk, 0, chunk.length, at);
        }, tick);
        if (got !== part.sha256) throw mismatch(`Part ${part.name} read differently while writing`);
        await slotFh.sync();
      } else {
        if (!slot.bootFiles) throw new SovereignError("UPDATE_NOT_CONFIGURED", `The bundle carries boot file ${part.name} but update.bootDir is not set.`);
        await mkdir(slot.bootFiles, { recursive: true });
        const final = join(slot.bootFiles, part.name);
        const partial = `${final}.partial`;
        const out = await open(partial, "w", 0o644);
        let got: string;
        try {
          got = await streamPart(fh, again, part, async (chunk) => {
            await out.write(chunk);
          }, tick);
          await out.sync();
        } finally {
          await out.close();
        }
        if (got !== part.sha256) {
          await rm(partial, { force: true });
          throw mismatch(`Part ${part.name} read differently while writing`);
        }
        await rename(partial, final);
      }
    }
  } finally {
    await fh.close();
    await slotFh.close();
  }
  onProgress?.("readback", 0, root.size);
  const rootReadback = await hashRange(slot.root, root.size);
  onProgress?.("readback", root.size, root.size);
  if (rootReadback !== root.sha256) throw mismatch("The root filesystem read back from the slot differs from the bundle");
  return { manifest, bytesWritten: total, rootReadback };
}
