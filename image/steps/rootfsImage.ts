import { existsSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { capture, exec } from "../lib/exec.js";
import { MiB } from "../lib/sfdisk.js";
import { inodesFor } from "../lib/slim.js";
import { defineStep } from "./Step.js";

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
 * Step 7b: root filesystem as a file, populated with `mkfs.ext4 -d` (no
 * mount). The tree is final here: it comes after every step that writes to
 * it, the boot partition included (it leaves out what that partition carries).
 */
export const rootfsImageStep = defineStep({
  name: "rootfs-image",
  title: "Make the root filesystem (mkfs.ext4 -d)",
  needs: ["runtime", "configure", "models", "boot-partition"],
  async run(ctx, { configure: { ids } }) {
    const r = ctx.rootfs;
    // Nothing in /tmp, /run or the apt cache belongs in the image, nor dpkg's and debconf's backup copies (*-old).
    await exec("sh", ["-c", `rm -rf ${r}/tmp/* ${r}/var/tmp/* ${r}/var/cache/apt/*.bin ${r}/var/cache/apt/archives/*.deb ${r}/var/log/*.log ${r}/var/log/apt/* ${r}/var/cache/debconf/*-old ${r}/var/lib/dpkg/*-old`], { logFile: ctx.logFile });
    // UEFI firmware loads kernel and initrd from the ESP (made in the step before), so the copy in /boot
    // is emptied. It stays as a zero-byte file because `update-initramfs -u` only regenerates the versions
    // whose initrd exists (apt triggers, first boot), and it then writes the whole file anew.
    if (ctx.board.boot.kind === "uefi") await exec("sh", ["-c", `for f in ${r}/boot/initrd.img-*; do [ -f "$f" ] && : > "$f"; done; true`], { logFile: ctx.logFile });
    // fstab mounts the boot partition (made in the step before, from these files) over its mount point,
    // so anything left under it in the root tree is hidden on the device: the Pi's /boot/firmware copy,
    // or files an initramfs hook copied to /boot/efi inside the build chroot.
    const mountPoint = join(r, ctx.board.boot.kind === "uefi" ? "boot/efi" : "boot/firmware");
    if (existsSync(mountPoint)) for (const e of readdirSync(mountPoint)) rmSync(join(mountPoint, e), { recursive: true, force: true });
    const tree = Number((await capture("du", ["-s", "-B1", r])).split("\t")[0]);
    const files = Number((await capture("sh", ["-c", `find ${r} -xdev | wc -l`])).trim());
    let fsBytes = ext4SizeFor(tree, files);
    const img = join(ctx.work, "root.img");
    ctx.progress(`tree ${(tree / MiB).toFixed(0)} MiB, ${files} files → ext4 ${(fsBytes / MiB).toFixed(0)} MiB to measure`);
    // Inodes fitted to the tree; no reserved blocks at build (first boot sets 1 %). "-T default -b 4096":
    // under 512 MiB mke2fs would pick its "small" type with 1 KiB blocks, which LUKS2's 4 KiB sectors refuse.
    const mkfs = async (bytes: number): Promise<void> => {
      writeFileSync(img, "");
      truncateSync(img, bytes);
      // metadata_csum_seed: checksums no longer depend on the UUID, so first boot can give each device
      // its own filesystem UUID while root is mounted (tune2fs -U, EXT4_IOC_SETFSUUID).
      await exec("mkfs.ext4", ["-q", "-F", "-L", "sovereign-root", "-U", ids.rootFsUuid, "-O", "metadata_csum_seed", "-T", "default", "-b", "4096", "-m", "0", "-N", String(inodesFor(files)), "-E", "root_owner=0:0", "-d", r, img], {
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
    ctx.progress(`ext4 ${(fsBytes / MiB).toFixed(0)} MiB, ${((final.free * 4096) / MiB).toFixed(0)} MiB free for first boot`);
    await exec("e2fsck", ["-f", "-n", img], { logFile: ctx.logFile });
    // The encryption step moves the data up by the header size; the file must have that room at its end.
    truncateSync(img, fsBytes + LUKS_REDUCE_BYTES);
    return { image: img, fsBytes };
  },
});
