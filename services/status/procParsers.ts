/** Pure parsers over /proc and /sys text, so the sampler's arithmetic is testable on recorded files. */

/** Aggregate CPU jiffies from the first line of /proc/stat. */
export interface CpuTimes {
  idle: number;
  total: number;
}

export function parseProcStat(text: string): CpuTimes | null {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) return null;
  const n = line.trim().split(/\s+/).slice(1).map(Number);
  if (n.length < 4 || n.some((v) => !Number.isFinite(v))) return null;
  // idle + iowait count as idle; guest time is already inside user/nice.
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { idle, total };
}

/** Busy share of CPU time between two samples, 0..100, or null when nothing elapsed. */
export function cpuPercent(prev: CpuTimes, next: CpuTimes): number | null {
  const total = next.total - prev.total;
  if (total <= 0) return null;
  const busy = total - (next.idle - prev.idle);
  return Math.max(0, Math.min(100, Math.round((busy / total) * 1000) / 10));
}

export interface MemInfo {
  totalBytes: number;
  availableBytes: number;
  usedBytes: number;
  swapTotalBytes: number;
  swapUsedBytes: number;
}

export function parseMeminfo(text: string): MemInfo | null {
  const kb = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m?.[1] && m[2]) kb.set(m[1], Number(m[2]) * 1024);
  }
  const total = kb.get("MemTotal");
  if (total === undefined) return null;
  const available = kb.get("MemAvailable") ?? (kb.get("MemFree") ?? 0) + (kb.get("Cached") ?? 0);
  const swapTotal = kb.get("SwapTotal") ?? 0;
  return {
    totalBytes: total,
    availableBytes: available,
    usedBytes: Math.max(0, total - available),
    swapTotalBytes: swapTotal,
    swapUsedBytes: Math.max(0, swapTotal - (kb.get("SwapFree") ?? 0)),
  };
}

/** A thermal zone's temp file holds millidegrees Celsius. */
export function parseMilliCelsius(text: string): number | null {
  const v = Number(text.trim());
  if (!Number.isFinite(v) || v <= -273_000 || v === 0) return null;
  return Math.round(v / 100) / 10;
}

/**
 * Raspberry Pi firmware throttle bits (vcgencmd get_throttled / get_throttled sysfs):
 * low bits are "now", bits 16+ are "since boot".
 */
export interface ThrottleState {
  underVoltage: boolean;
  frequencyCapped: boolean;
  throttled: boolean;
  softTempLimit: boolean;
  /** Any of those happened since boot. */
  occurredSinceBoot: boolean;
  raw: string;
}

export function parseRpiThrottled(text: string): ThrottleState | null {
  const t = text.trim().replace(/^throttled=/, "");
  const v = t.startsWith("0x") ? Number.parseInt(t.slice(2), 16) : Number.parseInt(t, 16);
  if (!Number.isFinite(v)) return null;
  return {
    underVoltage: (v & 0x1) !== 0,
    frequencyCapped: (v & 0x2) !== 0,
    throttled: (v & 0x4) !== 0,
    softTempLimit: (v & 0x8) !== 0,
    occurredSinceBoot: (v & 0xf0000) !== 0,
    raw: `0x${v.toString(16)}`,
  };
}

/** /proc/loadavg: the 1, 5 and 15 minute load averages. */
export function parseLoadavg(text: string): [number, number, number] | null {
  const [a, b, c] = text.trim().split(/\s+/).map(Number);
  if (a === undefined || b === undefined || c === undefined || [a, b, c].some((v) => !Number.isFinite(v))) return null;
  return [a, b, c];
}
