/** Device-tree strings are NUL-terminated (compatible holds several). */
export function parseDtStrings(text: string): string[] {
  return text
    .split("\0")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Our board id from device-tree compatible strings and the architecture, else null. */
export function identifyBoard(compatible: string[], arch: string, opts: { uefi: boolean; jetson: boolean }): string | null {
  const has = (re: RegExp): boolean => compatible.some((c) => re.test(c));
  if (has(/^raspberrypi,5-|^brcm,bcm2712$/)) return "rpi5";
  if (has(/^raspberrypi,4-|^raspberrypi,400$|^brcm,bcm2711$/)) return "rpi4";
  if (opts.jetson || has(/^nvidia,tegra234$|^nvidia,p37(67|68)/)) return "jetson-orin";
  if (arch === "x64") return "x86_64";
  if (arch === "arm64" && opts.uefi && compatible.length === 0) return "arm64-uefi";
  return null;
}

/** /etc/nv_tegra_release "# R36 (release), REVISION: 3.0, ..." → "R36.3.0"; null when it is not one. */
export function parseL4tRelease(text: string): string | null {
  const m = /#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)/.exec(text);
  return m ? `R${m[1]}.${m[2]}` : null;
}

/** /proc/driver/nvidia/version → "NVIDIA driver 550.54.15"; null when it is not one. */
export function parseNvidiaDriver(text: string): string | null {
  const m = /Kernel Module(?:\s+for\s+\S+)?\s+(\d+(?:\.\d+)+)/.exec(text);
  return m ? `NVIDIA driver ${m[1]}` : null;
}
