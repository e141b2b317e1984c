import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { BuildContext } from "../BuildContext.js";
import { TRYBOOT_PARTITIONS } from "../../core/bootSelection.js";
import { AUTOBOOT_MIB, emptyCpio, initialAutobootTxt, NODE_UNLOCK_CPIO, slotConfigTxt, slotPiCmdline } from "../lib/abLayout.js";
import { loaderEntry } from "../lib/bootConfig.js";
import { exec } from "../lib/exec.js";
import { MiB } from "../lib/sfdisk.js";
import { defineStep } from "./Step.js";

/** raspi-firmware's hooks that copy a kernel and initrd into /boot/firmware and rewrite config.txt and cmdline.txt. */
export const RASPI_FIRMWARE_HOOKS = ["etc/kernel/postinst.d/z50-raspi-firmware", "etc/kernel/postrm.d/z50-raspi-firmware", "etc/initramfs/post-update.d/z50-raspi-firmware"];

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
      if (ctx.options.layout === "ab") {
        // This image is a slot's boot partition (2 or 3): one config.txt picks either slot's cmdline.
        const tmp = join(ctx.work, "slot-boot");
        await exec("mkdir", ["-p", tmp]);
        const cmdline = readFileSync(join(fw, "cmdline.txt"), "utf8");
        const slotA = slotPiCmdline(cmdline, "a");
        const files: [string, string][] = [
          ["config.txt", slotConfigTxt(readFileSync(join(fw, "config.txt"), "utf8"))],
          // A firmware without the [boot_partition] filter reads cmdline.txt: slot A's, where it would boot.
          ["cmdline.txt", slotA],
          ["cmdline-a.txt", slotA],
          ["cmdline-b.txt", slotPiCmdline(cmdline, "b")],
        ];
        for (const [name, text] of files) writeFileSync(join(tmp, name), text);
        await exec("mcopy", ["-o", "-i", img, ...files.map(([name]) => join(tmp, name)), "::/"], { ...log, env });
        // Partition 1: only autoboot.txt (and, later, the owner's network file): which partition the firmware boots.
        const autoboot = join(ctx.work, "autoboot.img");
        await exec("rm", ["-f", autoboot]);
        await exec("mkfs.vfat", ["-F", "16", "-n", "SOVBOOT", "-i", volId, "-C", autoboot, String((AUTOBOOT_MIB * MiB) / 1024)], log);
        writeFileSync(join(tmp, "autoboot.txt"), initialAutobootTxt());
        await exec("mcopy", ["-o", "-i", autoboot, join(tmp, "autoboot.txt"), "::/autoboot.txt"], { ...log, env });
        // On the device /boot/firmware is the 32 MiB autoboot partition, and a slot's boot files come only from
        // bundles: raspi-firmware's hooks (a kernel or initrd update by hand) would copy them there and fail. They
        // have done their work for this build; a removed conffile stays removed across package upgrades.
        for (const hook of RASPI_FIRMWARE_HOOKS) rmSync(join(ctx.rootfs, hook), { force: true });
        ctx.progress(`tryboot A/B: autoboot.txt boots partition ${TRYBOOT_PARTITIONS.a}; slot boot partitions ${ctx.board.partitions.bootMiB} MiB each`);
        return { image: img, bytes, autoboot: { image: autoboot, bytes: AUTOBOOT_MIB * MiB } };
      }
    }
    return { image: img, bytes };
  },
});
