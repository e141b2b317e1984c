/** Live readings for the dashboard: they change from second to second, unlike HardwareFacts. */
export interface LiveStats {
  /** CPU temperature in °C (main sensor), null where the board exposes none. */
  cpuTemperatureC: number | null;
  /** 1-minute load average and current CPU use in percent. */
  load: { avg1: number; currentPercent: number | null };
  memory: { totalBytes: number; availableBytes: number };
  /** Mounted filesystems with their use. */
  disks: Array<{ mount: string; fs: string; sizeBytes: number; usedBytes: number }>;
}

/**
 * Reads temperatures, load, memory and disk use through systeminformation.
 * It spawns helpers and reads many files, so it is loaded lazily and never
 * runs on the startup path; each part that fails comes back null or empty.
 */
export async function readLiveStats(): Promise<LiveStats> {
  const si = await import("systeminformation");
  const { loadavg } = await import("node:os");
  const [temp, load, mem, fs] = await Promise.all([
    si.cpuTemperature().catch(() => null),
    si.currentLoad().catch(() => null),
    si.mem().catch(() => null),
    si.fsSize().catch(() => []),
  ]);
  const t = temp?.main;
  return {
    cpuTemperatureC: typeof t === "number" && Number.isFinite(t) && t > -50 ? t : null,
    load: { avg1: loadavg()[0] ?? 0, currentPercent: load ? Math.round(load.currentLoad * 10) / 10 : null },
    memory: { totalBytes: mem?.total ?? 0, availableBytes: mem?.available ?? 0 },
    disks: fs.map((d) => ({ mount: d.mount, fs: d.type, sizeBytes: d.size, usedBytes: d.used })),
  };
}
