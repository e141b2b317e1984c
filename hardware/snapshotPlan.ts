import type { Snapshot } from "./snapshot.js";
import { parseCgroupMembership } from "./parsers/cgroup.js";
import { parseCpuList } from "./parsers/cpuList.js";
import { rootBlockDevice, diskOfBlockLink } from "./parsers/bootMedium.js";

/** A directory to list, keeping only the entries that match. */
export interface DirWanted {
  path: string;
  keep: RegExp;
}

/** Which paths detection wants to read, given what has been read so far. */
export interface SnapshotPlan {
  files: string[];
  links: string[];
  dirs: DirWanted[];
}

const FIXED_FILES = [
  "/proc/cpuinfo",
  "/proc/meminfo",
  "/proc/self/status",
  "/proc/self/cgroup",
  "/proc/self/mountinfo",
  "/proc/cmdline",
  "/proc/device-tree/model",
  "/proc/device-tree/compatible",
  "/etc/nv_tegra_release",
  "/sys/devices/soc0/family",
  "/sys/devices/soc0/machine",
  "/sys/devices/soc0/soc_id",
  "/sys/devices/system/cpu/online",
  "/proc/driver/nvidia/version",
  "/sys/class/dmi/id/sys_vendor",
  "/sys/class/dmi/id/product_name",
];

const FIXED_DIRS: DirWanted[] = [
  { path: "/sys/devices/system/cpu", keep: /^cpu\d+$/ },
  { path: "/dev", keep: /^(nvidia\d*|nvidiactl|nvhost-gpu|nvhost-ctrl-gpu|nvmap|kfd)$/ },
  { path: "/dev/dri", keep: /^renderD\d+$/ },
  { path: "/sys/firmware", keep: /^(efi|devicetree)$/ },
  { path: "/proc/driver/nvidia/gpus", keep: /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]$/i },
];

/** Per-CPU files under /sys/devices/system/cpu/cpuN. */
export const CPU_FILES = [
  "topology/core_id",
  "topology/physical_package_id",
  "topology/thread_siblings_list",
  "topology/cluster_id",
  "cpu_capacity",
  "cpufreq/cpuinfo_max_freq",
] as const;

/** At most this many CPUs are read one by one; beyond it the counts come from the online list alone. */
export const MAX_CPUS_READ = 512;

/** Every path wanted. It grows as files that name other files are read (the plan is pure; the reader loops over it). */
export function planSnapshot(s: Snapshot): SnapshotPlan {
  const files = [...FIXED_FILES];
  const links: string[] = [];

  // Per-CPU topology, for the online CPUs (or every listed cpuN when the online list is missing).
  const listed = (s.dirs["/sys/devices/system/cpu"] ?? []).map((e) => Number(e.slice(3))).filter(Number.isInteger);
  const online = s.files["/sys/devices/system/cpu/online"];
  const ids = online !== undefined ? (parseCpuList(online) ?? listed) : listed;
  for (const id of ids.slice(0, MAX_CPUS_READ)) for (const f of CPU_FILES) files.push(`/sys/devices/system/cpu/cpu${id}/${f}`);

  for (const gpu of (s.dirs["/proc/driver/nvidia/gpus"] ?? []).slice(0, 16)) files.push(`/proc/driver/nvidia/gpus/${gpu}/information`);

  // cgroup limits: the process's own cgroup and every ancestor up to the root (a limit anywhere above applies).
  const membership = parseCgroupMembership(s.files["/proc/self/cgroup"] ?? "");
  if (membership.v2 !== null) {
    for (const dir of ancestors(membership.v2)) files.push(`/sys/fs/cgroup${dir}/cpu.max`, `/sys/fs/cgroup${dir}/memory.max`);
  }
  if (membership.cpuV1 !== null) {
    for (const dir of ancestors(membership.cpuV1)) {
      for (const mount of ["cpu", "cpu,cpuacct"]) files.push(`/sys/fs/cgroup/${mount}${dir}/cpu.cfs_quota_us`, `/sys/fs/cgroup/${mount}${dir}/cpu.cfs_period_us`);
    }
  }
  if (membership.memoryV1 !== null) {
    for (const dir of ancestors(membership.memoryV1)) files.push(`/sys/fs/cgroup/memory${dir}/memory.limit_in_bytes`);
  }

  // Boot medium: the root filesystem's block device, then its disk's sysfs path.
  const root = rootBlockDevice(s.files["/proc/self/mountinfo"] ?? null, s.files["/proc/cmdline"] ?? null);
  if (root.majorMinor) links.push(`/sys/dev/block/${root.majorMinor}`);
  if (root.name) links.push(`/sys/class/block/${root.name}`);
  for (const link of links) {
    const target = s.links[link];
    const disk = target !== undefined ? diskOfBlockLink(target) : null;
    if (disk) files.push(`/sys/class/block/${disk}/device/type`);
  }
  return { files: dedupe(files), links: dedupe(links), dirs: FIXED_DIRS };
}

/** "/a/b" → ["/a/b", "/a", ""] (the empty string is the cgroup root). */
function ancestors(path: string): string[] {
  const parts = path.split("/").filter((p) => p !== "" && p !== "." && p !== "..");
  const out: string[] = [];
  for (let i = parts.length; i >= 0; i--) out.push(i === 0 ? "" : `/${parts.slice(0, i).join("/")}`);
  return out.slice(0, 16);
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}
