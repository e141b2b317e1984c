import type { HardwareFacts } from "../HardwareFacts.js";

/** The root filesystem's block device: major:minor from /proc/self/mountinfo, or the name from root= on the kernel command line. */
export function rootBlockDevice(mountinfo: string | null, cmdline: string | null): { majorMinor: string | null; name: string | null } {
  let majorMinor: string | null = null;
  let name: string | null = null;
  for (const line of (mountinfo ?? "").split("\n")) {
    // id parent major:minor root mountpoint options ... - fstype source superopts
    const f = line.split(" ");
    if (f[4] !== "/") continue;
    const mm = f[2] ?? "";
    // Major 0 is an anonymous device (overlay, tmpfs: containers); it names no disk.
    if (/^\d+:\d+$/.test(mm) && !mm.startsWith("0:")) majorMinor = mm;
    const dash = f.indexOf("-");
    const source = dash >= 0 ? f[dash + 2] : undefined;
    if (source?.startsWith("/dev/") && source !== "/dev/root") name = source.slice(5);
  }
  if (name === null) {
    const m = /(?:^|\s)root=\/dev\/(\S+)/.exec(cmdline ?? "");
    if (m?.[1]) name = m[1];
  }
  if (name?.startsWith("mapper/") || name?.startsWith("dm-")) name = null; // encrypted root: the mapper hides the disk
  return { majorMinor, name };
}

/** The disk a sysfs block link points into: ".../block/mmcblk0/mmcblk0p2" → "mmcblk0". */
export function diskOfBlockLink(target: string): string | null {
  const m = /\/block\/([^/]+)/.exec(target);
  return m?.[1] ?? null;
}

/**
 * Classifies the boot medium from the sysfs path of the root block device.
 * mmc devices are told apart by their device/type file ("SD" or "MMC").
 */
export function classifyBootMedium(target: string | null, mmcType: string | null): HardwareFacts["bootMedium"] {
  if (target === null) return "unknown";
  if (/\/usb\d*\//.test(target)) return "usb";
  if (/\/nvme\d*\//.test(target) || /\/nvme\d/.test(target)) return "nvme";
  if (/\/virtio\d+\//.test(target)) return "virtio";
  if (/\/mmc_host\/|\/mmcblk\d/.test(target)) return mmcType?.trim().toUpperCase() === "MMC" ? "emmc" : "sd";
  if (/\/ata\d+\/|\/host\d+\/target/.test(target)) return "sata";
  return "unknown";
}
