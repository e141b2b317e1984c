import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { BuildContext } from "../BuildContext.js";
import { emptyCpio, NODE_UNLOCK_CPIO } from "../lib/abLayout.js";
import { loaderEntry } from "../lib/bootConfig.js";
import { exec } from "../lib/exec.js";
import { MiB } from "../lib/sfdisk.js";
import { defineStep } from "./Step.js";

function newestKernel(ctx: BuildContext): string {
  const k = readdirSync(join(ctx.rootfs, "boot")).filter((f) => f.startsWith("vmlinuz-")).sort().pop();
  if (!k) throw new SovereignError("IMAGE_COMMAND_FAILED", "no kernel in the rootfs /boot (the board's kernel package did not install)");
  return k.slice("vmlinuz-".length);
}

/**
 * Step 7a: the FAT boot partition as a file: mkfs.vfat, then mtools copies
 * (no vfat mount). UEFI boards get systemd-boot as the removable-media loader;
 * the Pi gets what raspi-firmware put in /boot/firmware.
 */
export const bootPartitionStep = defineStep({
  name: "boot-partition",
  title: "Make the ESP / firmware partition (mkfs.vfat + mtools)",
  // The kernel and the initrd the initramfs step made, under the ids configure chose.
  needs: ["configure", "initramfs", "runtime"],
  async run(ctx, { configure: { ids }, runtime }) {
    const img = join(ctx.work, "boot.img");
    const bytes = ctx.board.partitions.bootMiB * MiB;
    const volId = ids.bootVolumeId.replace("-", "");
    const log = { logFile: ctx.logFile };
    await exec("rm", ["-f", img]);
    await exec("mkfs.vfat", ["-F", "32", "-n", ctx.board.boot.kind === "uefi" ? "SOVEFI" : "SOVFIRM", "-i", volId, "-C", img, String(bytes / 1024)], log);
    const env = { ...process.env, MTOOLS_SKIP_CHECK: "1" };
    if (ctx.board.boot.kind === "uefi") {
      const ver = newestKernel(ctx);
      const keyWait = ctx.unlock === "usb-key" && ctx.options.usbKeyWaitSeconds !== undefined ? [`sovereign.keywait=${ctx.options.usbKeyWaitSeconds}`] : [];
      const ab = ctx.options.layout === "ab";
      const { entryPath, entry, loaderConf } = loaderEntry(ctx.board, ctx.unlock, ids.luksUuid, keyWait, ab ? { version: runtime.version } : undefined);
      // A/B: each slot boots its own kernel and initrd from /sovereign/<slot>/ (core/bootSelection.ts).
      const kdir = ab ? "::/sovereign/a/" : "::/";
      const tmp = join(ctx.work, "esp");
      await exec("mkdir", ["-p", tmp]);
      writeFileSync(join(tmp, "loader.conf"), loaderConf);
      writeFileSync(join(tmp, "sovereign.conf"), entry);
      // ssh unlock in the A/B layout: the entry loads the node's unlock archive, which first boot fills.
      const unlockCpio = ab && ctx.unlock === "ssh";
      if (unlockCpio) writeFileSync(join(tmp, "node-unlock.cpio"), emptyCpio());
      const efi = join(ctx.rootfs, ctx.board.boot.systemdBootEfi);
      if (!existsSync(efi)) throw new SovereignError("IMAGE_COMMAND_FAILED", `systemd-boot is missing at /${ctx.board.boot.systemdBootEfi} (systemd-boot-efi not installed?)`);
      await exec("mmd", ["-i", img, "::/EFI", "::/EFI/BOOT", "::/loader", "::/loader/entries", ...(ab ? ["::/sovereign", "::/sovereign/a", "::/sovereign/b"] : [])], { ...log, env });
      const copies: [string, string][] = [
        [efi, `::/EFI/BOOT/${ctx.board.boot.loaderName}`],
        [join(ctx.rootfs, "boot", `vmlinuz-${ver}`), `${kdir}vmlinuz`],
        [join(ctx.rootfs, "boot", `initrd.img-${ver}`), `${kdir}initrd.img`],
        [join(tmp, "loader.conf"), "::/loader/loader.conf"],
        [join(tmp, "sovereign.conf"), `::/${entryPath}`],
        ...(unlockCpio ? [[join(tmp, "node-unlock.cpio"), `::${NODE_UNLOCK_CPIO}`] as [string, string]] : []),
      ];
      for (const [src, dst] of copies) await exec("mcopy", ["-o", "-i", img, src, dst], { ...log, env });
      ctx.progress(`systemd-boot + kernel ${ver} (${(statSync(join(ctx.rootfs, "boot", `initrd.img-${ver}`)).size / MiB).toFixed(1)} MiB initrd)`);
    } else {
      const fw = join(ctx.rootfs, "boot/firmware");
      const entries = existsSync(fw) ? readdirSync(fw) : [];
      if (!entries.includes("config.txt") || !entries.includes("cmdline.txt"))
        throw new SovereignError("IMAGE_COMMAND_FAILED", "raspi-firmware did not write config.txt/cmdline.txt into /boot/firmware");
      await exec("mcopy", ["-s", "-o", "-i", img, ...entries.map((e) => join(fw, e)), "::/"], { ...log, env });
      ctx.progress(`${entries.length} firmware files`);
    }
    return { image: img, bytes };
  },
});
