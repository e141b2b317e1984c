import { systemdBootEntry } from "../../core/bootSelection.js";
import type { BoardProfile, UnlockMethod } from "../boards/BoardProfile.js";
import { abBootOf, DATA_MAPPER, dataFstabLine, espMountOptions, NODE_UNLOCK_CPIO, slotCmdline, type ImageLayout } from "./abLayout.js";
import { SLOT_PARTLABEL } from "./sfdisk.js";

/**
 * A headless appliance reboots after a kernel panic rather than hang with
 * nobody at the console (the service watchdog covers user space); under
 * qemu -no-reboot the guest exits instead, which the e2e suites notice.
 */
const PANIC_REBOOT = "panic=10";

/** The dm name of the unlocked root; the kernel command line and fstab name it. */
export const ROOT_MAPPER = "sovroot";
/** Filesystem label of the USB stick that carries the key file (usb-key unlock). */
export const USB_KEY_LABEL = "SOVKEY";
export const USB_KEY_FILE = "sovereign.key";
/**
 * The LUKS2 label of the root volume. crypttab finds root by this label,
 * not by UUID, so first boot can give each device its own LUKS UUID without
 * rebuilding the initramfs (dracut images also name the UUID on the kernel
 * command line, which first boot rewrites).
 */
export const LUKS_LABEL = "sovereign-luks";
/** The usb-key keyscript in the root and the initramfs: passdev with a console message, then the recovery key. */
export const USB_KEY_KEYSCRIPT = "/usr/lib/sovereign/usbkey-keyscript";
/** How long the usb-key keyscript waits for the stick before it asks for the recovery key; `sovereign.keywait=` on the kernel command line overrides it. */
export const USB_KEY_WAIT_SECONDS = 60;

export interface BootIds {
  /** LUKS2 UUID, fixed at build time with `cryptsetup --uuid`. */
  luksUuid: string;
  /** ext4 UUID of the root filesystem. */
  rootFsUuid: string;
  /** FAT volume id of the ESP / firmware partition, as XXXX-XXXX. */
  bootVolumeId: string;
}

/**
 * Which initramfs the image boots. Debian's initramfs-tools cryptroot
 * silently drops systemd-cryptenroll's `tpm2-device=` (it only knows
 * keyscripts), so tpm2 images use dracut, whose initrd unlocks with
 * systemd-cryptsetup: TPM2 token first, then the passphrase prompt. The
 * other methods need initramfs-tools' keyscripts (passdev) and
 * dropbear-initramfs.
 */
export function initramfsGenerator(unlock: UnlockMethod): "dracut" | "initramfs-tools" {
  return unlock === "tpm2" ? "dracut" : "initramfs-tools";
}

/** systemd-cryptsetup's options for the root mapping (dracut images): the crypttab line and the initrd's command line share them. */
const SYSTEMD_LUKS_OPTIONS = "discard,tpm2-device=auto";

/**
 * /etc/crypttab. `initramfs` makes cryptsetup-initramfs unlock root early;
 * usb-key uses our keyscript around Debian's passdev: it waits for the
 * labelled stick, says so on the console, and after a while asks for the
 * recovery key (`tries=0`: a mistyped key asks again instead of dropping
 * to a shell). Root is named by its LUKS label, which survives first
 * boot's new UUID (a udev change of the UUID would also stop a
 * systemd-cryptsetup unit bound to the old by-uuid link). dracut images
 * name the UUID on the kernel command line too (`rd.luks.name`), which
 * first boot rewrites in the ESP's loader entry.
 */
export function crypttab(unlock: UnlockMethod, _ids?: BootIds, layout: ImageLayout = "single"): string {
  const dev = `LABEL=${LUKS_LABEL}`;
  // A/B: the LUKS volume is the data partition; the initramfs opens it all the same (`initramfs`), before root is mounted.
  const mapper = layout === "ab" ? DATA_MAPPER : ROOT_MAPPER;
  const base = "luks,discard,initramfs";
  switch (unlock) {
    case "usb-key":
      return `${mapper} ${dev} /dev/disk/by-label/${USB_KEY_LABEL}:/${USB_KEY_FILE} ${base},tries=0,keyscript=${USB_KEY_KEYSCRIPT}\n`;
    case "tpm2":
      // systemd-cryptsetup: the token systemd-cryptenroll made at first boot, else the recovery passphrase.
      return `${mapper} ${dev} none luks,${SYSTEMD_LUKS_OPTIONS}\n`;
    case "ssh":
    case "passphrase":
      return `${mapper} ${dev} none ${base}\n`;
  }
}

export function fstab(board: BoardProfile, ids: BootIds, ab?: { serviceGid: number }): string {
  const bootDir = board.boot.kind === "uefi" ? "/boot/efi" : "/boot/firmware";
  // A/B: root is the slot the command line names (mounted by the initramfs); the ESP is writable by the
  // service's group, whose update service writes a slot's boot files and entries there.
  // By GPT name, not the FAT volume id: a slot written from a bundle carries the fstab of the bundle's build.
  // On a Pi that is the autoboot partition (autoboot.txt and the owner's files); each slot's own boot partition is never mounted.
  if (ab) return [dataFstabLine(), `PARTLABEL=${abBootOf(board).partlabel} ${bootDir} vfat ${espMountOptions(ab.serviceGid)} 0 2`, ""].join("\n");
  return [
    `/dev/mapper/${ROOT_MAPPER} / ext4 defaults,noatime,errors=remount-ro 0 1`,
    // A slow medium (or udev held up at boot) must not cost the boot partition, and with it the network file's
    // import that needs it: systemd's default 90 s device wait ran out once under emulation.
    `UUID=${ids.bootVolumeId} ${bootDir} vfat umask=0077,nofail,x-systemd.device-timeout=5min 0 2`,
    "",
  ].join("\n");
}

/**
 * Kernel command line for UEFI boards (the loader entry's `options`). A
 * dracut initrd is built without the host's crypttab (it is generic, not
 * host-only), so the root mapping is named here.
 */
export function kernelCmdline(board: BoardProfile, unlock: UnlockMethod, luksUuid: string, extra: readonly string[] = [], layout: ImageLayout = "single"): string {
  const parts = layout === "ab" ? [...slotCmdline("a"), "rootfstype=ext4"] : [`root=/dev/mapper/${ROOT_MAPPER}`, "rootfstype=ext4", "ro"];
  parts.push("quiet", PANIC_REBOOT, "console=tty0", `console=${board.console}`);
  if (unlock === "ssh") parts.push("ip=dhcp");
  // A/B: the LUKS volume is the data partition; the slot is root.
  if (initramfsGenerator(unlock) === "dracut") parts.push(`rd.luks.name=${luksUuid}=${layout === "ab" ? DATA_MAPPER : ROOT_MAPPER}`, `rd.luks.options=${luksUuid}=${SYSTEMD_LUKS_OPTIONS}`);
  return [...parts, ...extra].join(" ");
}

/** systemd-boot loader entry (its path on the ESP and text) and loader.conf. */
export function loaderEntry(board: BoardProfile, unlock: UnlockMethod, luksUuid: string, extra: readonly string[] = [], ab?: { version: string }): { entryPath: string; entry: string; loaderConf: string } {
  // A/B: slot A's entry, committed (no boot counter), in the form the update service arms and blesses.
  if (ab)
    return {
      entryPath: "loader/entries/sovereign-a.conf",
      entry: systemdBootEntry("a", ab.version, 1, kernelCmdline(board, unlock, luksUuid, extra, "ab"), unlock === "ssh" ? [NODE_UNLOCK_CPIO] : []),
      loaderConf: ["default sovereign-*", "timeout 0", "editor no", ""].join("\n"),
    };
  return {
    entryPath: "loader/entries/sovereign.conf",
    entry: ["title Sovereign Node", "linux /vmlinuz", "initrd /initrd.img", `options ${kernelCmdline(board, unlock, luksUuid, extra)}`, ""].join("\n"),
    loaderConf: ["default sovereign.conf", "timeout 0", "editor no", ""].join("\n"),
  };
}

/**
 * raspi-firmware's own configuration: its kernel and initramfs hooks write
 * config.txt and cmdline.txt from these files, so a kernel update on the
 * device keeps the crypt root.
 */
export function raspiFirmwareDefaults(board: BoardProfile, unlock: UnlockMethod, layout: ImageLayout = "single"): Record<string, string> {
  if (board.boot.kind !== "raspberrypi") throw new Error(`${board.id} is not a Raspberry Pi board`);
  const consoles = `${board.console} tty0`;
  return {
    "etc/default/raspi-firmware": [
      // A/B: slot A's root; the boot partition step writes each slot's own cmdline from this one.
      `# Written by the Sovereign image builder: root is ${layout === "ab" ? "system slot A" : "the LUKS2 mapping"}.`,
      `ROOTPART=${layout === "ab" ? `PARTLABEL=${SLOT_PARTLABEL.a}` : `/dev/mapper/${ROOT_MAPPER}`}`,
      `CONSOLES="${consoles}"`,
      "KERNEL_ARCH=arm64",
      "",
    ].join("\n"),
    "etc/default/raspi-extra-cmdline": ["rootfstype=ext4", "quiet", PANIC_REBOOT, ...(unlock === "ssh" ? ["ip=dhcp"] : [])].join(" ") + "\n",
    "etc/default/raspi-firmware-custom": board.boot.configTxtExtra.join("\n") + "\n",
  };
}

/** The cmdline.txt the Pi firmware should end up with (used to check raspi-firmware's output). */
export function expectedPiCmdline(board: BoardProfile): string[] {
  return [`root=/dev/mapper/${ROOT_MAPPER}`, "rootfstype=ext4", `console=${board.console}`];
}

/**
 * initramfs-tools settings: cryptsetup always, modules for the key stick,
 * dropbear for ssh. For dracut (tpm2), its configuration instead.
 */
export function initramfsFiles(unlock: UnlockMethod, sshAuthorizedKeys?: string, cipher = "aes-xts-plain64", boardModules: readonly string[] = [], layout: ImageLayout = "single"): Record<string, string> {
  if (initramfsGenerator(unlock) === "dracut") return { "etc/dracut.conf.d/90-sovereign.conf": dracutConf(boardModules, layout) };
  const files: Record<string, string> = {
    "etc/cryptsetup-initramfs/conf-hook": "CRYPTSETUP=y\n",
    "etc/initramfs-tools/conf.d/sovereign.conf": "COMPRESS=zstd\n",
  };
  // The cryptsetup hook cannot see the cipher of a volume that is not open at build time, so name its modules.
  const modules = ["dm_crypt", ...cipherModules(cipher)];
  if (unlock === "usb-key") modules.push("vfat", "nls_cp437", "nls_iso8859_1", "nls_ascii", "nls_utf8", "ext4", "usb_storage", "uas", "sd_mod", "virtio_blk");
  // What the board needs to reach its disk, the key stick and the keyboard (and the LAN for ssh unlock).
  for (const m of boardModules) if (!modules.includes(m)) modules.push(m);
  files["etc/initramfs-tools/modules"] = modules.join("\n") + "\n";
  if (unlock === "ssh") {
    if (!sshAuthorizedKeys) throw new Error("ssh unlock needs an authorized key");
    files["etc/dropbear/initramfs/authorized_keys"] = sshAuthorizedKeys.trim() + "\n";
    files["etc/dropbear/initramfs/dropbear.conf"] = 'DROPBEAR_OPTIONS="-I 600 -j -k -p 22 -s -c cryptroot-unlock"\n';
  }
  return files;
}

/**
 * dracut for tpm2 images. Not host-only: the build chroot is not the
 * device, and a generic initrd carries every storage driver and all of
 * crypto/ (AES-XTS and Adiantum alike). systemd-cryptsetup and tpm2-tss
 * bring the TPM2 token plugin, the tss2 libraries and the TPM drivers.
 */
export function dracutConf(boardModules: readonly string[] = [], layout: ImageLayout = "single"): string {
  return [
    "# Sovereign image builder (image/lib/bootConfig.ts)",
    'hostonly="no"',
    'compress="zstd"',
    // A/B: sovereign-data mounts the data partition over the slot (image/lib/abLayout.ts dracutDataModule).
    `add_dracutmodules+=" systemd-cryptsetup tpm2-tss${layout === "ab" ? " sovereign-data" : ""} "`,
    // The board's boot-critical drivers, whatever dracut's generic selection would take.
    ...(boardModules.length ? [`add_drivers+=" ${boardModules.join(" ")} "`] : []),
    // Nothing here boots from the network, LVM or RAID, or draws a splash.
    'omit_dracutmodules+=" plymouth network network-manager systemd-networkd nfs iscsi lvm mdraid dmraid multipath btrfs bluetooth "',
    "",
  ].join("\n");
}

/** Kernel modules a LUKS cipher needs in the initramfs (arch-specific ones are skipped where they do not exist). */
export function cipherModules(cipher: string): string[] {
  // Adiantum boards boot the first time with the AES-XTS build cipher, so they need both.
  if (cipher.includes("adiantum")) return ["xts", "adiantum", "nhpoly1305", "nhpoly1305_neon", "chacha_generic", "chacha_neon", "libpoly1305"];
  return ["xts"];
}
