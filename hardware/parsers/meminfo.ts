/** /proc/meminfo in bytes; fields are null when absent or malformed. */
export interface Meminfo {
  totalBytes: number | null;
  availableBytes: number | null;
}

export function parseMeminfo(text: string): Meminfo {
  const field = (name: string): number | null => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s*kB\\s*$`, "m").exec(text);
    if (!m) return null;
    const n = Number(m[1]) * 1024;
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  };
  return { totalBytes: field("MemTotal"), availableBytes: field("MemAvailable") };
}
