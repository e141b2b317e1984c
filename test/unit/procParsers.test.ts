import { describe, expect, it } from "vitest";
import { cpuPercent, parseLoadavg, parseMeminfo, parseMilliCelsius, parseProcStat, parseRpiThrottled } from "../../services/status/procParsers.js";

describe("status: /proc and /sys parsers", () => {
  it("computes CPU busy share between two /proc/stat samples", () => {
    const a = parseProcStat("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\n");
    const b = parseProcStat("cpu  200 0 150 850 50 0 0 0 0 0\n");
    expect(a).toEqual({ idle: 800, total: 1000 });
    expect(b).toEqual({ idle: 900, total: 1250 });
    // 250 jiffies elapsed, 100 of them idle or iowait.
    expect(cpuPercent(a!, b!)).toBe(60);
    expect(cpuPercent(b!, b!)).toBeNull();
    expect(parseProcStat("garbage")).toBeNull();
  });

  it("reads memory from /proc/meminfo, using MemAvailable", () => {
    const m = parseMeminfo("MemTotal:        8000000 kB\nMemFree:          500000 kB\nMemAvailable:    6000000 kB\nCached: 100 kB\nSwapTotal: 1000 kB\nSwapFree: 250 kB\n");
    expect(m).toEqual({ totalBytes: 8_192_000_000, availableBytes: 6_144_000_000, usedBytes: 2_048_000_000, swapTotalBytes: 1_024_000, swapUsedBytes: 768_000 });
    expect(parseMeminfo("")).toBeNull();
  });

  it("reads thermal zones and load averages", () => {
    expect(parseMilliCelsius("48312\n")).toBe(48.3);
    expect(parseMilliCelsius("nope")).toBeNull();
    expect(parseLoadavg("0.52 0.58 0.59 1/467 12345\n")).toEqual([0.52, 0.58, 0.59]);
  });

  it("decodes the Raspberry Pi firmware throttle bits", () => {
    expect(parseRpiThrottled("throttled=0x50005\n")).toMatchObject({ underVoltage: true, frequencyCapped: false, throttled: true, occurredSinceBoot: true, raw: "0x50005" });
    expect(parseRpiThrottled("0\n")).toMatchObject({ underVoltage: false, throttled: false, occurredSinceBoot: false });
  });
});
