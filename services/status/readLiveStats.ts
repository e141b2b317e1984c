import { readdir, readFile, statfs } from "node:fs/promises";
import { join } from "node:path";
import { cpuPercent, parseLoadavg, parseMeminfo, parseMilliCelsius, parseProcStat, parseRpiThrottled, type CpuTimes, type MemInfo, type ThrottleState } from "./procParsers.js";

/** Live machine state as shown on the dashboard. Every field may be null where the machine cannot tell. */
export interface LiveStats {
  sampledAt: string;
  cpu: { percent: number | null; loadavg: [number, number, number] | null };
  memory: MemInfo | null;
  /** Hottest thermal zone, degrees Celsius. */
  temperatureC: number | null;
  /** Raspberry Pi firmware state, or a throttle-event count on x86; null where neither exists. */
  throttling: (ThrottleState & { source: "rpi-firmware" }) | { source: "thermal_throttle"; events: number; throttled: boolean } | null;
  disk: { path: string; totalBytes: number; freeBytes: number; usedBytes: number } | null;
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return null;
  }
}

/** Reads /proc, /sys and statfs only: no child processes, so a sample costs well under a millisecond of CPU. */
export class LiveStatsReader {
  private prevCpu: CpuTimes | null = null;
  private prevThrottleEvents: number | null = null;
  private thermalZones: string[] | null = null;
  private cachedDisk: LiveStats["disk"] = null;
  private diskReadAt = 0;

  constructor(
    private readonly dataDir: string,
    private readonly root = "/",
  ) {}

  async read(): Promise<LiveStats> {
    const [stat, meminfo, loadavg, temperatureC, throttling, disk] = await Promise.all([
      readText(join(this.root, "proc/stat")),
      readText(join(this.root, "proc/meminfo")),
      readText(join(this.root, "proc/loadavg")),
      this.readTemperature(),
      this.readThrottling(),
      this.readDisk(),
    ]);
    const cpuNow = stat ? parseProcStat(stat) : null;
    const percent = cpuNow && this.prevCpu ? cpuPercent(this.prevCpu, cpuNow) : null;
    if (cpuNow) this.prevCpu = cpuNow;
    return {
      sampledAt: new Date().toISOString(),
      cpu: { percent, loadavg: loadavg ? parseLoadavg(loadavg) : null },
      memory: meminfo ? parseMeminfo(meminfo) : null,
      temperatureC,
      throttling,
      disk,
    };
  }

  private async readTemperature(): Promise<number | null> {
    const base = join(this.root, "sys/class/thermal");
    if (this.thermalZones === null) {
      try {
        this.thermalZones = (await readdir(base)).filter((d) => d.startsWith("thermal_zone"));
      } catch {
        this.thermalZones = [];
      }
    }
    const temps = await Promise.all(this.thermalZones.map(async (z) => {
      const t = await readText(join(base, z, "temp"));
      return t === null ? null : parseMilliCelsius(t);
    }));
    const valid = temps.filter((t): t is number => t !== null);
    return valid.length ? Math.max(...valid) : null;
  }

  private async readThrottling(): Promise<LiveStats["throttling"]> {
    const rpi = await readText(join(this.root, "sys/devices/platform/soc/soc:firmware/get_throttled"));
    if (rpi !== null) {
      const s = parseRpiThrottled(rpi);
      if (s) return { ...s, source: "rpi-firmware" };
    }
    const count = await readText(join(this.root, "sys/devices/system/cpu/cpu0/thermal_throttle/core_throttle_count"));
    if (count === null) return null;
    const events = Number(count.trim());
    if (!Number.isFinite(events)) return null;
    // Throttling "now" means the count moved since the previous sample.
    const throttled = this.prevThrottleEvents !== null && events > this.prevThrottleEvents;
    this.prevThrottleEvents = events;
    return { source: "thermal_throttle", events, throttled };
  }

  private async readDisk(): Promise<LiveStats["disk"]> {
    // Free space changes slowly; statfs every 30 s is plenty.
    if (Date.now() - this.diskReadAt < 30_000) return this.cachedDisk;
    this.diskReadAt = Date.now();
    try {
      const s = await statfs(this.dataDir);
      const totalBytes = s.blocks * s.bsize;
      const freeBytes = s.bavail * s.bsize;
      this.cachedDisk = { path: this.dataDir, totalBytes, freeBytes, usedBytes: Math.max(0, totalBytes - freeBytes) };
    } catch {
      this.cachedDisk = null;
    }
    return this.cachedDisk;
  }
}
