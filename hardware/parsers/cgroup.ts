/** Where this process sits in the cgroup hierarchies, from /proc/self/cgroup. */
export interface CgroupMembership {
  /** The unified (v2) path, from the "0::/path" line. */
  v2: string | null;
  /** v1 paths of the cpu and memory controllers (hybrid or legacy hosts). */
  cpuV1: string | null;
  memoryV1: string | null;
}

export function parseCgroupMembership(text: string): CgroupMembership {
  const m: CgroupMembership = { v2: null, cpuV1: null, memoryV1: null };
  for (const line of text.split("\n")) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, id, controllers = "", path = "/"] = match;
    if (id === "0" && controllers === "") m.v2 = path;
    const names = controllers.split(",");
    if (names.includes("cpu")) m.cpuV1 = path;
    if (names.includes("memory")) m.memoryV1 = path;
  }
  return m;
}

/** cgroup v2 cpu.max ("max 100000" or "200000 100000") → CPUs allowed (may be fractional), null when unlimited; undefined when unparsable. */
export function parseCpuMax(text: string): number | null | undefined {
  const m = /^(max|\d+)\s+(\d+)\s*$/.exec(text.trim());
  if (!m) return undefined;
  if (m[1] === "max") return null;
  const period = Number(m[2]);
  if (period <= 0) return undefined;
  return Number(m[1]) / period;
}

/** cgroup v1 cpu.cfs_quota_us and cpu.cfs_period_us → CPUs allowed; null when unlimited (-1). */
export function parseCfsQuota(quotaText: string, periodText: string): number | null | undefined {
  const quota = Number(quotaText.trim());
  const period = Number(periodText.trim());
  if (!Number.isFinite(quota) || !Number.isFinite(period) || quotaText.trim() === "" || periodText.trim() === "") return undefined;
  if (quota < 0) return null;
  if (period <= 0) return undefined;
  return quota / period;
}

/** v2 memory.max or v1 memory.limit_in_bytes → bytes; null when unlimited ("max", or v1's page-rounded 2^63). */
export function parseMemoryLimit(text: string): number | null | undefined {
  const t = text.trim();
  if (t === "max") return null;
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n >= 2 ** 60 ? null : n;
}
