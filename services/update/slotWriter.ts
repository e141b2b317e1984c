import { createHash } from "node:crypto";
import { readFileSync, realpathSync, type Stats } from "node:fs";
import { mkdir, open, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { basename, join } from "node:path";
import { canonicalJson } from "../../core/canonicalJson.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { BOOT_IMAGE_PART, storedSha256Of } from "../../core/updateBundle.js";
import type { BundleManifest, BundlePart, VerifyPolicy } from "./bundleFormat.js";
import { openBundle, type OnProgress, type OpenedBundle } from "./bundleReader.js";
import { verifyBundleFile } from "./verifyBundleFile.js";
import { copyPart, type PartCopy } from "./copyPart.js";

/** Where one slot's parts go: its root device (or file), and its boot partition device or the directory that receives its boot files. */
export interface SlotTarget {
  root: string;
  bootFiles: string | null;
  /** The slot's own boot partition (Raspberry Pi A/B): a bundle's boot.vfat is written onto it whole. Null: boot parts are files under bootFiles. */
  bootImage: string | null;
}

export interface WriteResult {
  manifest: BundleManifest;
  bytesWritten: number;
  /** sha256 of the root part as read back from the slot. */
  rootReadback: string;
}

/** A block device's size from sysfs; a plain file (tests) stands for a partition of its current size. */
function capacityOf(path: string, st: Stats): number | null {
  if (!st.isBlockDevice()) return st.isFile() ? st.size : null;
  try {
    const dev = basename(realpathSync(path));
    return Number(readFileSync(`/sys/class/block/${dev}/size`, "utf8").trim()) * 512;
  } catch {
    return null;
  }
}

/** A part streamed raw onto a device: the root onto the slot, boot.vfat onto the slot's own boot partition. */
interface RawWrite {
  part: BundlePart;
  device: string;
  /** What the device is, in messages. */
  what: string;
}

/** The parts that go raw onto a device, root first; every other part is a file under the slot's boot directory. */
function rawWritesOf(manifest: BundleManifest, slot: SlotTarget): RawWrite[] {
  const root = manifest.parts.find((p) => p.target === "root");
  if (!root) throw new Error("a verified manifest always has a root part");
  const out: RawWrite[] = [{ part: root, device: slot.root, what: `slot ${slot.root}` }];
  const bootImage = slot.bootImage;
  if (bootImage) {
    for (const part of manifest.parts) {
      if (part.target === "boot" && part.name === BOOT_IMAGE_PART) out.push({ part, device: bootImage, what: `boot partition ${bootImage}` });
    }
  }
  return out;
}

/** Every device must hold its part before the first byte goes to any of them, so a refusal leaves all as they were. */
async function checkCapacity(raw: readonly RawWrite[]): Promise<void> {
  for (const w of raw) {
    const capacity = capacityOf(w.device, await stat(w.device));
    if (capacity !== null && w.part.size > capacity) {
      throw new SovereignError("UPDATE_SLOT_TOO_SMALL", `Part ${w.part.name} is ${w.part.size} bytes; ${w.what} holds ${capacity}.`, {
        details: { part: w.part.name, device: w.device, size: w.part.size, capacity },
      });
    }
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

/** Streams one part onto a device (or file) from its start, unpacking it if stored compressed, and syncs it. */
async function writeRaw(fh: FileHandle, bundle: OpenedBundle, w: RawWrite, tick: (bytes: number) => void): Promise<PartCopy> {
  const out = await open(w.device, "r+");
  try {
    const got = await copyPart(fh, bundle, w.part, async (chunk, at) => {
      await out.write(chunk, 0, chunk.length, at);
    }, tick);
    await out.sync();
    return got;
  } finally {
    await out.close();
  }
}

/** The part arrived as signed: its stored bytes are the verified ones, and it unpacked to its size and sha256. */
const copiedRight = (part: BundlePart, got: PartCopy): boolean => got.storedSha256 === storedSha256Of(part) && got.unpackFailure === null && got.sha256 === part.sha256;

/** Writes one boot part as a file in the slot's boot directory; it replaces the old file only if it arrived as signed. */
async function writeBootFile(fh: FileHandle, bundle: OpenedBundle, part: BundlePart, dir: string | null, tick: (bytes: number) => void): Promise<PartCopy> {
  if (!dir) throw new SovereignError("UPDATE_NOT_CONFIGURED", `The bundle carries boot file ${part.name} but update.bootDir is not set.`);
  await mkdir(dir, { recursive: true });
  const final = join(dir, part.name);
  const partial = `${final}.partial`;
  const out = await open(partial, "w", 0o644);
  let got: PartCopy;
  try {
    got = await copyPart(fh, bundle, part, async (chunk) => {
      await out.write(chunk);
    }, tick);
    await out.sync();
  } finally {
    await out.close();
  }
  if (copiedRight(part, got)) await rename(partial, final);
  else await rm(partial, { force: true });
  return got;
}

/**
 * Verify pass, then write pass: the bundle is read twice and never copied.
 * The first pass (verifyBundleFile) checks the header, hashes every part as
 * stored and unpacks the compressed ones to nowhere, without touching the slot. The second streams the parts into the slot (gunzipped
 * where stored compressed) while hashing them again, stored and written:
 * the root onto the slot's device and, when the slot has its own boot
 * partition (Raspberry Pi A/B), boot.vfat onto that; other boot parts become
 * files in the slot's boot directory. If any part reads differently from the
 * first pass (the file changed, or the medium returns other bytes), or a
 * device reads back differently, it throws UPDATE_WRITE_MISMATCH; a
 * compressed part that unpacks differently than in the first pass throws
 * UPDATE_PART_UNPACK_FAILED after at most its size went to the device. Either
 * way the caller never marks the slot bootable.
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
  const raw = rawWritesOf(manifest, slot);
  await checkCapacity(raw);
  // Past this line the slot is about to change: the caller records it as incomplete first.
  hooks.onVerified?.(manifest);
  const total = manifest.parts.reduce((s, p) => s + p.size, 0);
  let done = 0;
  const tick = (b: number): void => {
    done += b;
    onProgress?.("write", done, total);
  };
  const mismatch = (what: string): SovereignError =>
    new SovereignError("UPDATE_WRITE_MISMATCH", `${what}; slot ${slot.root} was not marked bootable.`, { details: { slot: slot.root } });
  const fh = await open(path, "r");
  try {
    const again = await openBundle(fh, policy);
    if (canonicalJson(again.manifest) !== canonicalJson(manifest)) throw mismatch("The bundle's manifest changed between the verify and the write pass");
    for (const part of manifest.parts) {
      const w = raw.find((r) => r.part === part);
      const got = w ? await writeRaw(fh, again, w, tick) : await writeBootFile(fh, again, part, slot.bootFiles, tick);
      if (got.storedSha256 !== storedSha256Of(part)) throw mismatch(`Part ${part.name} read differently while writing`);
      if (!copiedRight(part, got)) {
        const why = got.unpackFailure ?? "it unpacks to other bytes than its signed sha256";
        throw new SovereignError("UPDATE_PART_UNPACK_FAILED", `Part ${part.name} of the bundle does not unpack: ${why}; ${w ? `${w.what} may be partly written and ` : ""}slot ${slot.root} was not marked bootable.`, {
          details: { part: part.name, size: part.size, unpackedBytes: got.bytes, slot: slot.root },
        });
      }
    }
  } finally {
    await fh.close();
  }
  const readTotal = raw.reduce((s, w) => s + w.part.size, 0);
  let read = 0;
  let rootReadback = "";
  onProgress?.("readback", 0, readTotal);
  for (const w of raw) {
    const got = await hashRange(w.device, w.part.size);
    read += w.part.size;
    onProgress?.("readback", read, readTotal);
    if (got !== w.part.sha256) throw mismatch(`Part ${w.part.name} read back from ${w.what} differs from the bundle`);
    if (w.part.target === "root") rootReadback = got;
  }
  return { manifest, bytesWritten: total, rootReadback };
}
