/**
 * Runs on the device before every start of sovereign.service
 * (`ExecStartPre=-+…`: as root, outside the sandbox, a failure never stops
 * the node): caps the service's memory from tune()'s model RAM budget.
 *
 * Why here and this way: the budget depends on the machine's RAM, which the
 * image does not know, so a fixed MemoryMax= in the unit would be wrong on
 * every board size; the sandboxed service user cannot change its own unit;
 * and `systemctl set-property --runtime` writes a /run drop-in that applies
 * to this start and is gone at reboot, so a RAM upgrade is picked up. The
 * runners get their own, smaller MemoryMax inside the delegated subtree; this
 * is the backstop for the service as a whole (Node, SQLite, embeddings and
 * the runners), so that a leak ends in this unit's OOM kill and restart, not
 * in the kernel killing avahi or journald.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { HardwareFacts } from "../../hardware/HardwareFacts.js";
import { parseMeminfo } from "../../hardware/parsers/meminfo.js";
import { tuneModelBudget } from "../../hardware/tuneMemory.js";

const MiB = 1024 * 1024;

/**
 * The cap in MiB: tune()'s model budget plus half of what tune() keeps back
 * (that half is the service's own Node heap, SQLite and embeddings; the other
 * half stays the OS's). Null when the RAM is unknown.
 */
export function serviceMemoryMaxMb(meminfoText: string): number | null {
  const total = parseMeminfo(meminfoText).totalBytes;
  if (total === null) return null;
  const facts = { memory: { totalBytes: total, availableBytes: null, usableBytes: total }, cgroup: { memoryLimitBytes: null, cpuLimit: null } } as unknown as HardwareFacts;
  const budget = tuneModelBudget(facts, {}).value;
  const mem = Math.floor(total / MiB);
  return budget + Math.floor((mem - budget) / 2);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const mb = serviceMemoryMaxMb(readFileSync("/proc/meminfo", "utf8"));
  if (mb === null) {
    process.stderr.write("sovereign: MemTotal unknown, sovereign.service runs without MemoryMax\n");
  } else {
    execFileSync("systemctl", ["set-property", "--runtime", "sovereign.service", `MemoryMax=${mb}M`], { stdio: "inherit" });
    process.stdout.write(`sovereign.service MemoryMax=${mb}M (tune(): model budget plus the service's share of the reserve)\n`);
  }
}
