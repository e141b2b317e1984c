import type { CpuFacts, HardwareFacts } from "../HardwareFacts.js";

/** One "processor" block of /proc/cpuinfo. */
export interface CpuinfoProcessor {
  id: number;
  /** Arm "CPU part" (e.g. "0xd0b"), for naming cores and telling big from LITTLE. */
  part: string | null;
  /** x86 "physical id" and "core id" (used when sysfs topology is missing). */
  physicalId: number | null;
  coreId: number | null;
}

export interface Cpuinfo {
  processors: CpuinfoProcessor[];
  modelName: string | null;
  features: CpuFacts["features"];
  /** The first processor's flags (x86) or Features (Arm), as listed. */
  flags: string[];
  /** Architecture as far as cpuinfo tells it. */
  arch: HardwareFacts["arch"] | null;
  /** Raspberry Pi kernels add "Model" and "Revision" at the end. */
  boardModel: string | null;
}

/** Arm core names by implementer 0x41 part number (arch/arm64/include/asm/cputype.h). */
const ARM_PARTS: Record<string, string> = {
  "0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57", "0xd08": "Cortex-A72",
  "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76", "0xd0c": "Neoverse-N1", "0xd0d": "Cortex-A77",
  "0xd40": "Neoverse-V1", "0xd41": "Cortex-A78", "0xd42": "Cortex-A78AE", "0xd44": "Cortex-X1", "0xd46": "Cortex-A510",
  "0xd47": "Cortex-A710", "0xd48": "Cortex-X2", "0xd49": "Neoverse-N2", "0xd4b": "Cortex-A78C", "0xd4d": "Cortex-A715",
  "0xd4f": "Neoverse-V2", "0xd80": "Cortex-A520", "0xd81": "Cortex-A720", "0xd82": "Cortex-X4", "0xd87": "Cortex-A725",
  "0xc07": "Cortex-A7", "0xc09": "Cortex-A9", "0xc0f": "Cortex-A15",
};

export function armPartName(part: string | null): string | null {
  return part === null ? null : (ARM_PARTS[part.toLowerCase()] ?? null);
}

/** Parses /proc/cpuinfo (x86 or Arm). Unknown lines are ignored; an empty text gives no processors. */
export function parseCpuinfo(text: string): Cpuinfo {
  const processors: CpuinfoProcessor[] = [];
  let modelName: string | null = null;
  let boardModel: string | null = null;
  let flags = new Set<string>();
  let x86 = false;
  let armArch: number | null = null;
  let current: CpuinfoProcessor | null = null;

  for (const raw of text.split("\n")) {
    const idx = raw.indexOf(":");
    if (idx < 0) continue;
    const key = raw.slice(0, idx).trim().toLowerCase();
    const value = raw.slice(idx + 1).trim();
    switch (key) {
      case "processor": {
        const id = Number(value);
        // 32-bit Arm kernels print "Processor : ARMv7 Processor rev 4 (v7l)" as a name, not an index.
        if (Number.isInteger(id) && value !== "") {
          current = { id, part: null, physicalId: null, coreId: null };
          processors.push(current);
        } else modelName ??= value;
        break;
      }
      case "model name":
        modelName ??= value;
        break;
      case "vendor_id":
        x86 = true;
        break;
      case "flags":
      case "features":
        if (flags.size === 0) flags = new Set(value.split(/\s+/).filter(Boolean));
        break;
      case "cpu architecture": {
        const n = Number.parseInt(value, 10);
        if (Number.isFinite(n)) armArch = n;
        break;
      }
      case "cpu part":
        if (current) current.part = value.toLowerCase();
        break;
      case "physical id":
        if (current) current.physicalId = toInt(value);
        break;
      case "core id":
        if (current) current.coreId = toInt(value);
        break;
      case "model":
        // x86 "model : 2" is a number; Raspberry Pi kernels write the board name here.
        if (!/^\d+$/.test(value)) boardModel = value;
        break;
    }
  }

  const arm = armArch !== null || flags.has("asimd") || flags.has("neon");
  const arch: HardwareFacts["arch"] | null = x86 ? (flags.has("lm") ? "x64" : "other") : armArch !== null ? (armArch >= 8 && flags.has("asimd") ? "arm64" : "arm") : null;
  if (arm && modelName === null) {
    const names = [...new Set(processors.map((p) => armPartName(p.part)).filter((n): n is string => n !== null))];
    if (names.length > 0) modelName = names.join(" + ");
  }
  return {
    processors,
    modelName,
    boardModel,
    arch,
    flags: [...flags],
    features: {
      aes: flags.has("aes"),
      dotprod: flags.has("asimddp") || flags.has("avx_vnni") || flags.has("avx512_vnni"),
      i8mm: flags.has("i8mm"),
      avx2: flags.has("avx2"),
      avx512: flags.has("avx512f"),
      fma: flags.has("fma") || flags.has("asimd"),
      neon: flags.has("asimd") || flags.has("neon"),
    },
  };
}

function toInt(s: string): number | null {
  const n = Number(s);
  return Number.isInteger(n) ? n : null;
}
