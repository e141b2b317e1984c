import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem, arch, platform, release } from "node:os";
import { join } from "node:path";

/** Facts about the machine a benchmark ran on, stored beside every result. */
export function machineFacts(): Record<string, unknown> {
  const c = cpus();
  return {
    cpuModel: c[0]?.model ?? "unknown",
    logicalCpus: c.length,
    totalMemBytes: totalmem(),
    arch: arch(),
    platform: platform(),
    kernel: release(),
    node: process.version,
  };
}

/** Writes bench/results/<name>.json with the machine's facts and the time of the run; prints a summary line. */
export function writeResult(name: string, results: Record<string, unknown>): string {
  const dir = join(import.meta.dirname, "..", "results");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  writeFileSync(path, `${JSON.stringify({ name, measuredAt: new Date().toISOString(), machine: machineFacts(), results }, null, 2)}\n`);
  console.log(`bench ${name}: wrote ${path}`);
  return path;
}
