import { truncateSync, writeFileSync } from "node:fs";
import type { BuildContext } from "../BuildContext.js";
import { capture, exec } from "./exec.js";
import { MiB } from "./sfdisk.js";
import { inodesFor } from "./slim.js";

/** Room cryptsetup takes for the LUKS2 header when encrypting in place. */
export const LUKS_REDUCE_BYTES = 16 * MiB;
/** Free space left in the shrunk filesystem for first boot (journal, machine-id, logs) before it grows. */
export const HEADROOM_BYTES = 32 * MiB;

/**
 * A tight ext4 size for a tree: encrypted free space does not compress, so
 * the filesystem is made just large enough and grown on the device.
 */
export function ext4SizeFor(treeBytes: number, files: number): number {
  const inodeBytes = files * 256 * 1.3;
  const bytes = treeBytes * 1.05 + inodeBytes + 48 * MiB;
  return Math.ceil(bytes / MiB) * MiB;
}

/**
 * The final size from what the first, roomy mkfs used: the used blocks plus
 * first boot's headroom, whole MiB. A second mkfs at this size holds the same
 * tree with no more metadata (fewer groups need less), so nothing but the
 * headroom is free, and free space is what encryption makes incompressible.
 */
export function tightExt4Bytes(usedBlocks: number, blockSize = 4096): number {
  return Math.ceil((usedBlocks * blockSize + HEADROOM_BYTES) / MiB) * MiB;
}

/** Block counts in 4 KiB blocks (mkfs is told -b 4096). */
async function ext4Blocks(img: string): Promise<{ count: number; free: number }> {
  const h = await capture("dumpe2fs", ["-h", img]);
  const n = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(h)?.[1] ?? "0");
  if (n("Block size") !== 4096) throw new Error(`root.img has ${n("Block size")}-byte blocks, expected 4096`);
  return { count: n("Block count"), free: n("Free blocks") };
}

/**
 * A tight ext4 image of a tree, populated with `mkfs.ext4 -d` (no mount):
 * measured once roomy, then made again at the used size plus first boot's
 * headroom. `luksRoom`: the file gets the LUKS2 header's room at its end,
 * for the encryption step. Returns the filesystem's size in bytes.
 */
export async function makeTightExt4(ctx: Pick<BuildContext, "logFile" | "progress">, tree: string, img: string, fs: { label: string; uuid: string; luksRoom: boolean }): Promise<number> {
  const r = tree;
  const treeBytes = Number((await capture("du", ["-s", "-B1", r])).split("\t")[0]);
  const files = Number((await capture("sh", ["-c", `find ${r} -xdev | wc -l`])).trim());
  let fsBytes = ext4SizeFor(treeBytes, files);
  ctx.progress(`tree ${(treeBytes / MiB).toFixed(0)} MiB, ${files} files → ext4 ${(fsBytes / MiB).toFixed(0)} MiB to measure`);
  // Inodes fitted to the tree; no reserved blocks at build (first boot sets 1 %). "-T default -b 4096":
  // under 512 MiB mke2fs would pick its "small" type with 1 KiB blocks, which LUKS2's 4 KiB sectors refuse.
  const mkfs = async (bytes: number): Promise<void> => {
    writeFileSync(img, "");
    truncateSync(img, bytes);
    // metadata_csum_seed: checksums no longer depend on the UUID, so first boot can give each device
    // its own filesystem UUID while root is mounted (tune2fs -U, EXT4_IOC_SETFSUUID).
    await exec("mkfs.ext4", ["-q", "-F", "-L", fs.label, "-U", fs.uuid, "-O", "metadata_csum_seed", "-T", "default", "-b", "4096", "-m", "0", "-N", String(inodesFor(files)), "-E", "root_owner=0:0", "-d", r, img], {
      logFile: ctx.logFile,
      nice: true,
    });
  };
  try {
    await mkfs(fsBytes);
  } catch {
    // The estimate was too tight for this tree: one retry with 15 % more.
    fsBytes = Math.ceil((fsBytes * 1.15) / MiB) * MiB;
    ctx.progress(`retrying with ${(fsBytes / MiB).toFixed(0)} MiB`);
    await mkfs(fsBytes);
  }
  // resize2fs -M's minimum is conservative (it left ~100 MiB free here); a second mkfs at the measured size is exact.
  const first = await ext4Blocks(img);
  let tight = tightExt4Bytes(first.count - first.free);
  if (tight < fsBytes) {
    try {
      await mkfs(tight);
    } catch {
      tight = Math.ceil((tight * 1.03) / MiB) * MiB;
      ctx.progress(`tight mkfs did not fit; retrying with ${(tight / MiB).toFixed(0)} MiB`);
      await mkfs(tight);
    }
    fsBytes = tight;
  }
  const final = await ext4Blocks(img);
  ctx.progress(`${fs.label}: ext4 ${(fsBytes / MiB).toFixed(0)} MiB, ${((final.free * 4096) / MiB).toFixed(0)} MiB free for first boot`);
  await exec("e2fsck", ["-f", "-n", img], { logFile: ctx.logFile });
  // The encryption step moves the data up by the header size; the file must have that room at its end.
  if (fs.luksRoom) truncateSync(img, fsBytes + LUKS_REDUCE_BYTES);
  return fsBytes;
}
