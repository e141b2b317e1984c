import { truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { capture, exec } from "../lib/exec.js";
import { MiB } from "../lib/sfdisk.js";
import type { Step } from "./Step.js";

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

/** Step 7a: root filesystem as a file, populated with `mkfs.ext4 -d` (no mount). */
export const rootfsImageStep: Step = {
  name: "rootfs-image",
  title: "Make the root filesystem (mkfs.ext4 -d)",
  async run(ctx) {
    const r = ctx.rootfs;
    // Nothing in /tmp, /run or the apt cache belongs in the image.
    await exec("sh", ["-c", `rm -rf ${r}/tmp/* ${r}/var/tmp/* ${r}/var/cache/apt/*.bin ${r}/var/cache/apt/archives/*.deb ${r}/var/log/*.log ${r}/var/log/apt/*`], { logFile: ctx.logFile });
    // Manuals, translations and docs are dead weight on an appliance; the copyright files stay.
    await exec("sh", ["-c", `rm -rf ${r}/usr/share/man/* ${r}/usr/share/info/* ${r}/usr/share/locale/* && find ${r}/usr/share/doc -type f ! -name copyright -delete`], { logFile: ctx.logFile });
    const tree = Number((await capture("du", ["-s", "-B1", r])).split("\t")[0]);
    const files = Number((await capture("sh", ["-c", `find ${r} -xdev | wc -l`])).trim());
    let fsBytes = ext4SizeFor(tree, files);
    const img = join(ctx.work, "root.img");
    writeFileSync(img, "");
    truncateSync(img, fsBytes);
    ctx.progress(`tree ${(tree / MiB).toFixed(0)} MiB, ${files} files → ext4 ${(fsBytes / MiB).toFixed(0)} MiB`);
    // One inode per 16 KiB is plenty for this tree; no reserved blocks at build (first boot sets 1 %).
    const mkfs = (): Promise<string> =>
      exec("mkfs.ext4", ["-q", "-F", "-L", "sovereign-root", "-U", ctx.state.rootFsUuid ?? "random", "-m", "0", "-i", "16384", "-E", "root_owner=0:0", "-d", r, img], {
        logFile: ctx.logFile,
        nice: true,
      });
    try {
      await mkfs();
    } catch {
      // The estimate was too tight for this tree: one retry with 15 % more.
      fsBytes = Math.ceil((fsBytes * 1.15) / MiB) * MiB;
      ctx.progress(`retrying with ${(fsBytes / MiB).toFixed(0)} MiB`);
      truncateSync(img, fsBytes);
      await mkfs();
    }
    // Encrypted free space does not compress: shrink to the minimum plus a little headroom for
    // the first boot's writes before it grows the filesystem to the medium.
    await exec("e2fsck", ["-f", "-y", img], { logFile: ctx.logFile }).catch(() => "");
    await exec("resize2fs", ["-M", img], { logFile: ctx.logFile, nice: true });
    const blocks = Number(/Block count:\s+(\d+)/.exec(await capture("dumpe2fs", ["-h", img]))?.[1] ?? "0");
    const tight = Math.ceil((blocks * 4096 + HEADROOM_BYTES) / MiB) * MiB;
    if (tight < fsBytes) {
      await exec("resize2fs", [img, `${tight / 1024}K`], { logFile: ctx.logFile });
      fsBytes = tight;
    }
    ctx.progress(`shrunk to ${(fsBytes / MiB).toFixed(0)} MiB`);
    // The encryption step moves the data up by the header size; the file must have that room at its end.
    truncateSync(img, fsBytes + LUKS_REDUCE_BYTES);
    ctx.state.rootImg = img;
    ctx.state.rootFsBytes = fsBytes;
    return undefined;
  },
};
