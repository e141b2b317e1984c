import type { CpuFacts } from "../HardwareFacts.js";

/** What sysfs (and cpuinfo) say about one logical CPU; null where a file was missing. */
export interface CpuRecord {
  id: number;
  coreId: number | null;
  packageId: number | null;
  siblings: number[] | null;
  capacity: number | null;
  maxFreqKhz: number | null;
  /** Arm "CPU part", the last resort for telling big from LITTLE. */
  part: string | null;
}

/** Arm LITTLE (in-order or efficiency) cores by part number. */
const LITTLE_PARTS = new Set(["0xd03", "0xd04", "0xd05", "0xd46", "0xd80", "0xc07"]);

/** A cluster is a set of CPUs whose capacity (or max frequency) is within this ratio of the fastest one in it. */
const SAME_CLUSTER_RATIO = 0.85;

/** The physical core a logical CPU belongs to: its SMT siblings share one key. */
export function physicalCoreKey(c: CpuRecord): string {
  if (c.siblings && c.siblings.length > 0) return `s${Math.min(...c.siblings)}`;
  if (c.packageId !== null && c.coreId !== null) return `p${c.packageId}c${c.coreId}`;
  return `cpu${c.id}`;
}

/**
 * Groups CPUs into performance clusters, fastest first: by cpu_capacity when
 * every CPU has one, else by cpuinfo_max_freq, else by Arm core type.
 * Small differences (favoured cores, binning) stay in one cluster.
 */
export function clusterCpus(cpus: CpuRecord[]): CpuFacts["clusters"] {
  if (cpus.length === 0) return [];
  const metricOf = pickMetric(cpus);
  const sorted = [...cpus].sort((a, b) => metricOf(b) - metricOf(a) || a.id - b.id);
  const clusters: Array<{ top: number; members: CpuRecord[] }> = [];
  for (const c of sorted) {
    const last = clusters[clusters.length - 1];
    const m = metricOf(c);
    if (last && m >= last.top * SAME_CLUSTER_RATIO) last.members.push(c);
    else clusters.push({ top: m, members: [c] });
  }
  return clusters.map(({ members }) => ({
    cpus: members.map((c) => c.id).sort((a, b) => a - b),
    capacity: maxOrNull(members.map((c) => c.capacity)),
    maxFreqKhz: maxOrNull(members.map((c) => c.maxFreqKhz)),
  }));
}

function pickMetric(cpus: CpuRecord[]): (c: CpuRecord) => number {
  if (cpus.every((c) => c.capacity !== null && c.capacity > 0)) return (c) => c.capacity ?? 0;
  if (cpus.every((c) => c.maxFreqKhz !== null && c.maxFreqKhz > 0)) return (c) => c.maxFreqKhz ?? 0;
  if (cpus.some((c) => c.part !== null && LITTLE_PARTS.has(c.part)) && cpus.some((c) => c.part !== null && !LITTLE_PARTS.has(c.part))) {
    return (c) => (c.part !== null && LITTLE_PARTS.has(c.part) ? 1 : 2);
  }
  return () => 1;
}

function maxOrNull(xs: Array<number | null>): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length > 0 ? Math.max(...v) : null;
}
