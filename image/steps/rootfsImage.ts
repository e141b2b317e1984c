import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { exec } from "../lib/exec.js";
import { makeTightExt4 } from "../lib/ext4Image.js";
import { defineStep } from "./Step.js";

export { ext4SizeFor, HEADROOM_BYTES, LUKS_REDUCE_BYTES, tightExt4Bytes } from "../lib/ext4Image.js";

/**
 * Step 7b: root filesystem as a file, populated with `mkfs.ext4 -d` (no
 * mount). The tree is final here: it comes after every step that writes to
 * it, the boot partition included (it leaves out what that partition carries).
 */
export const rootfsImageStep = defineStep({
  name: "rootfs-image",
  title: "Make the root filesystem (mkfs.ext4 -d)",
  needs: ["runtime", "configure", "models", "boot-partition", "data-image"],
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
    const img = join(ctx.work, "root.img");
    // A/B: the root goes into a slot as it is, unencrypted; one encrypted root needs the LUKS header's room.
    const fsBytes = await makeTightExt4(ctx, r, img, { label: "sovereign-root", uuid: ids.rootFsUuid, luksRoom: ctx.options.layout !== "ab" });
    return { image: img, fsBytes };
  },
});
