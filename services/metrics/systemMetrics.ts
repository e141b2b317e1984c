import type { FastifyInstance } from "fastify";
import { statSync } from "node:fs";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { LiveStatsReader } from "../status/readLiveStats.js";

/** Database size and latency, and the machine's temperature, throttling, CPU, memory and disk. */
export class SystemMetrics {
  private readonly dbSize: Gauge;
  private readonly walSize: Gauge;
  readonly queryDuration: Histogram;
  private readonly temperature: Gauge;
  private readonly throttled: Gauge;
  private readonly throttleEvents: Counter;
  private readonly cpu: Gauge;
  private readonly load: Gauge;
  private readonly memTotal: Gauge;
  private readonly memAvailable: Gauge;
  private readonly diskTotal: Gauge;
  private readonly diskFree: Gauge;
  private readonly live: LiveStatsReader;

  constructor(private readonly app: FastifyInstance, registry: Registry) {
    const r = [registry];
    this.dbSize = new Gauge({ name: "sovereign_db_size_bytes", help: "Size of the SQLite database file.", registers: r });
    this.walSize = new Gauge({ name: "sovereign_db_wal_size_bytes", help: "Size of the SQLite write-ahead log.", registers: r });
    this.queryDuration = new Histogram({
      name: "sovereign_db_query_duration_seconds",
      help: "SQLite statement latency, by operation (a probe read at each scrape, the watchdog's write, and what services report).",
      labelNames: ["op"],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: r,
    });
    this.temperature = new Gauge({ name: "sovereign_temperature_celsius", help: "Hottest thermal zone.", registers: r });
    this.throttled = new Gauge({ name: "sovereign_throttled", help: "1 while the CPU is throttled (Raspberry Pi firmware flags, or thermal-throttle events since the last scrape).", labelNames: ["reason"], registers: r });
    this.throttleEvents = new Counter({ name: "sovereign_throttle_events_total", help: "Thermal-throttle events counted by the kernel (x86).", registers: r });
    this.cpu = new Gauge({ name: "sovereign_cpu_usage_ratio", help: "Share of CPU time busy since the previous scrape (0..1).", registers: r });
    this.load = new Gauge({ name: "sovereign_load_average", help: "System load average.", labelNames: ["window"], registers: r });
    this.memTotal = new Gauge({ name: "sovereign_memory_total_bytes", help: "Physical memory.", registers: r });
    this.memAvailable = new Gauge({ name: "sovereign_memory_available_bytes", help: "Memory available to new work (MemAvailable).", registers: r });
    this.diskTotal = new Gauge({ name: "sovereign_disk_total_bytes", help: "Size of the file system holding the data directory.", registers: r });
    this.diskFree = new Gauge({ name: "sovereign_disk_free_bytes", help: "Space free to the node on the file system holding the data directory.", registers: r });
    this.live = new LiveStatsReader(app.config["paths.dataDir"]);
  }

  async refresh(): Promise<void> {
    const db = this.app.db;
    const size = (p: string) => {
      try {
        return statSync(p).size;
      } catch {
        return 0;
      }
    };
    this.dbSize.set(size(db.path));
    this.walSize.set(size(`${db.path}-wal`));
    if (db.sqlite.open) {
      const t0 = process.hrtime.bigint();
      db.sqlite.prepare("SELECT count(*) FROM schema_migrations").get();
      this.queryDuration.observe({ op: "probe_read" }, Number(process.hrtime.bigint() - t0) / 1e9);
    }

    const s = await this.live.read();
    if (s.temperatureC !== null) this.temperature.set(s.temperatureC);
    this.throttled.reset();
    const t = s.throttling;
    if (t?.source === "rpi-firmware") {
      this.throttled.set({ reason: "throttled" }, t.throttled ? 1 : 0);
      this.throttled.set({ reason: "frequency_capped" }, t.frequencyCapped ? 1 : 0);
      this.throttled.set({ reason: "under_voltage" }, t.underVoltage ? 1 : 0);
      this.throttled.set({ reason: "soft_temp_limit" }, t.softTempLimit ? 1 : 0);
    } else if (t?.source === "thermal_throttle") {
      this.throttled.set({ reason: "thermal" }, t.throttled ? 1 : 0);
      this.throttleEvents.reset();
      this.throttleEvents.inc(t.events);
    }
    if (s.cpu.percent !== null) this.cpu.set(s.cpu.percent / 100);
    if (s.cpu.loadavg) {
      this.load.set({ window: "1m" }, s.cpu.loadavg[0]);
      this.load.set({ window: "5m" }, s.cpu.loadavg[1]);
      this.load.set({ window: "15m" }, s.cpu.loadavg[2]);
    }
    if (s.memory) {
      this.memTotal.set(s.memory.totalBytes);
      this.memAvailable.set(s.memory.availableBytes);
    }
    if (s.disk) {
      this.diskTotal.set(s.disk.totalBytes);
      this.diskFree.set(s.disk.freeBytes);
    }
  }
}
