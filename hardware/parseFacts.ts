import type { CpuFacts, GpuFacts, HardwareFacts, HardwareReport } from "./HardwareFacts.js";
import type { Snapshot, SnapshotHints } from "./snapshot.js";
import { CPU_FILES } from "./snapshotPlan.js";
import { parseCpuinfo, type Cpuinfo } from "./parsers/cpuinfo.js";
import { parseMeminfo } from "./parsers/meminfo.js";
import { parseCpuList } from "./parsers/cpuList.js";
import { parseCfsQuota, parseCpuMax, parseMemoryLimit } from "./parsers/cgroup.js";
import { clusterCpus, physicalCoreKey, type CpuRecord } from "./parsers/topology.js";
import { identifyBoard, parseDtStrings, parseL4tRelease, parseNvidiaDriver } from "./parsers/board.js";
import { classifyBootMedium, diskOfBlockLink, rootBlockDevice } from "./parsers/bootMedium.js";

/** When /proc/meminfo cannot be read, tuning plans for this little RAM (it picks the smallest models). */
export const FALLBACK_MEMORY_BYTES = 512 * 1024 * 1024;

/**
 * Turns a snapshot of /proc, /sys, /etc and /dev into facts. Pure and total:
 * a missing, unreadable or odd file degrades to a conservative fact and a
 * warning that names the file; it never throws.
 */
export function parseFacts(s: Snapshot, hints: SnapshotHints = {}): HardwareReport {
  const warnings: string[] = [];
  const file = (path: string, required: string | null): string | null => {
    const v = s.files[path];
    if (v !== undefined) return v;
    const code = s.unreadable[path];
    if (code !== undefined) warnings.push(`${path}: unreadable (${code})${required ? `; ${required}` : ""}`);
    else if (required) warnings.push(`${path}: missing; ${required}`);
    return null;
  };

  const cpuinfoText = file("/proc/cpuinfo", "CPU model and features unknown (assuming no AES, no dot product)");
  const cpuinfo = parseCpuinfo(cpuinfoText ?? "");
  if (cpuinfoText !== null && cpuinfo.processors.length === 0) warnings.push("/proc/cpuinfo: no processor entries; CPU features may be incomplete");

  const compatibleText = file("/proc/device-tree/compatible", null);
  const compatible = parseDtStrings(compatibleText ?? "");
  const dtModel = parseDtStrings(file("/proc/device-tree/model", null) ?? "")[0] ?? null;
  const tegraText = file("/etc/nv_tegra_release", null);
  const l4tRelease = tegraText !== null ? parseL4tRelease(tegraText) : null;
  if (tegraText !== null && l4tRelease === null) warnings.push("/etc/nv_tegra_release: not in the expected \"# R36 (release), REVISION: 3.0\" form");
  const socFamily = (file("/sys/devices/soc0/family", null) ?? "").trim();
  const jetson = l4tRelease !== null || /tegra/i.test(socFamily) || compatible.some((c) => c.startsWith("nvidia,tegra"));

  let arch = hints.arch ?? cpuinfo.arch;
  if (arch === null) {
    arch = compatible.length > 0 ? "arm64" : "other";
    if (cpuinfoText !== null) warnings.push(`/proc/cpuinfo: architecture not recognised; assuming ${arch}`);
  }

  const cpu = cpuFacts(s, cpuinfo, hints, warnings, file);
  const memory = memoryFacts(s, warnings, file);
  const dmi = [file("/sys/class/dmi/id/sys_vendor", null), file("/sys/class/dmi/id/product_name", null)].map((x) => x?.trim() ?? "").filter(Boolean);
  const model = dtModel ?? cpuinfo.boardModel ?? (dmi.length > 0 ? dmi.join(" ") : null) ?? (file("/sys/devices/soc0/machine", null)?.trim() || null);
  const uefi = (s.dirs["/sys/firmware"] ?? []).includes("efi");

  const facts: HardwareFacts = {
    model,
    boardId: identifyBoard(compatible, arch, { uefi, jetson }),
    compatible,
    arch,
    cpu: cpu.facts,
    memory: memory.facts,
    gpu: gpuFacts(s, arch, jetson, model, l4tRelease, file),
    l4tRelease,
    bootMedium: bootMedium(s),
    cgroup: { cpuLimit: cpu.cgroupLimit, memoryLimitBytes: memory.cgroupLimit },
  };
  return { facts, warnings };
}

type FileReader = (path: string, required: string | null) => string | null;

function cpuFacts(s: Snapshot, cpuinfo: Cpuinfo, hints: SnapshotHints, warnings: string[], file: FileReader): { facts: CpuFacts; cgroupLimit: number | null } {
  const onlineText = file("/sys/devices/system/cpu/online", null);
  let online = onlineText !== null ? parseCpuList(onlineText) : null;
  if (online === null) {
    const listed = (s.dirs["/sys/devices/system/cpu"] ?? []).map((e) => Number(e.slice(3))).filter(Number.isInteger).sort((a, b) => a - b);
    online = listed.length > 0 ? listed : cpuinfo.processors.length > 0 ? cpuinfo.processors.map((p) => p.id) : [0];
    warnings.push(`/sys/devices/system/cpu/online: ${onlineText === null ? "missing" : `not a CPU list (${JSON.stringify(onlineText.trim().slice(0, 40))})`}; counting ${online.length} CPU(s) from ${listed.length > 0 ? "the cpuN directories" : cpuinfo.processors.length > 0 ? "/proc/cpuinfo" : "nothing (assuming 1)"}`);
  }

  // Affinity: the process may be pinned to a subset (taskset, systemd CPUAffinity=, cpusets).
  let allowed = online;
  const status = file("/proc/self/status", null);
  const allowedText = status !== null ? /^Cpus_allowed_list:\s*(.+)$/m.exec(status)?.[1] : undefined;
  if (allowedText !== undefined) {
    const list = parseCpuList(allowedText);
    if (list === null) warnings.push("/proc/self/status: Cpus_allowed_list is not a CPU list; ignoring affinity");
    else {
      const inter = online.filter((id) => list.includes(id));
      if (inter.length > 0) allowed = inter;
    }
  }

  const cgroupLimit = cgroupCpuLimit(s, warnings);
  let usable = allowed.length;
  if (hints.availableParallelism !== undefined && hints.availableParallelism > 0) usable = Math.min(usable, hints.availableParallelism);
  if (cgroupLimit !== null) usable = Math.min(usable, Math.floor(cgroupLimit));
  usable = Math.max(1, usable);

  const byId = new Map(cpuinfo.processors.map((p) => [p.id, p]));
  const num = (path: string): number | null => {
    const t = s.files[path];
    if (t === undefined) return null;
    const n = Number(t.trim());
    return t.trim() !== "" && Number.isFinite(n) ? n : null;
  };
  const records: CpuRecord[] = allowed.map((id) => {
    const base = `/sys/devices/system/cpu/cpu${id}`;
    const sib = s.files[`${base}/topology/thread_siblings_list`];
    const p = byId.get(id);
    return {
      id,
      coreId: num(`${base}/topology/core_id`) ?? p?.coreId ?? null,
      packageId: num(`${base}/topology/physical_package_id`) ?? p?.physicalId ?? null,
      siblings: sib !== undefined ? parseCpuList(sib) : null,
      capacity: num(`${base}/cpu_capacity`),
      maxFreqKhz: num(`${base}/cpufreq/cpuinfo_max_freq`),
      part: p?.part ?? null,
    };
  });
  if (records.every((r) => r.siblings === null && (r.coreId === null || r.packageId === null))) {
    warnings.push(`/sys/devices/system/cpu/cpu${allowed[0] ?? 0}/${CPU_FILES[2]}: missing; counting every logical CPU as a physical core`);
  }

  const keyOf = new Map(records.map((r) => [r.id, physicalCoreKey(r)]));
  const cores = new Set(keyOf.values());
  const clusters = clusterCpus(records);
  const fastest = new Set((clusters[0]?.cpus ?? []).map((id) => keyOf.get(id)));
  const physicalCores = Math.max(1, Math.min(cores.size, usable));
  const performanceCores = Math.max(1, Math.min(fastest.size, physicalCores));

  return {
    cgroupLimit,
    facts: {
      modelName: cpuinfo.modelName,
      logicalCpus: online.length,
      usableCpus: usable,
      physicalCores,
      performanceCores,
      efficiencyCores: physicalCores - performanceCores,
      smt: cores.size < records.length,
      clusters,
      features: cpuinfo.features,
    },
  };
}

/** The tightest CPU quota on the way from this process's cgroup up to the root (v2, else v1). */
function cgroupCpuLimit(s: Snapshot, warnings: string[]): number | null {
  let limit: number | null = null;
  for (const [path, text] of Object.entries(s.files)) {
    let v: number | null | undefined;
    if (/^\/sys\/fs\/cgroup(\/.*)?\/cpu\.max$/.test(path)) v = parseCpuMax(text);
    else if (path.endsWith("/cpu.cfs_quota_us") && path.startsWith("/sys/fs/cgroup/")) {
      const period = s.files[path.replace(/cpu\.cfs_quota_us$/, "cpu.cfs_period_us")];
      v = period === undefined ? null : parseCfsQuota(text, period);
    } else continue;
    if (v === undefined) warnings.push(`${path}: not a CPU quota (${JSON.stringify(text.trim().slice(0, 40))}); ignoring it`);
    else if (v !== null && v > 0) limit = limit === null ? v : Math.min(limit, v);
  }
  return limit;
}

function memoryFacts(s: Snapshot, warnings: string[], file: FileReader): { facts: HardwareFacts["memory"]; cgroupLimit: number | null } {
  const text = file("/proc/meminfo", `assuming ${FALLBACK_MEMORY_BYTES / 2 ** 20} MiB of RAM`);
  const info = text !== null ? parseMeminfo(text) : { totalBytes: null, availableBytes: null };
  if (text !== null && info.totalBytes === null) warnings.push(`/proc/meminfo: no readable MemTotal; assuming ${FALLBACK_MEMORY_BYTES / 2 ** 20} MiB of RAM`);
  const total = info.totalBytes ?? FALLBACK_MEMORY_BYTES;

  let limit: number | null = null;
  for (const [path, t] of Object.entries(s.files)) {
    if (!/^\/sys\/fs\/cgroup(\/.*)?\/(memory\.max|memory\.limit_in_bytes)$/.test(path)) continue;
    const v = parseMemoryLimit(t);
    if (v === undefined) warnings.push(`${path}: not a memory limit (${JSON.stringify(t.trim().slice(0, 40))}); ignoring it`);
    else if (v !== null && v > 0) limit = limit === null ? v : Math.min(limit, v);
  }
  return {
    cgroupLimit: limit,
    facts: { totalBytes: total, availableBytes: info.availableBytes, usableBytes: limit !== null ? Math.min(total, limit) : total },
  };
}

/**
 * What /proc, /sys and /dev say about a GPU. `usable` stays false here: only
 * `probeEngineGpu` (which loads node-llama-cpp's build for it) may set it.
 */
function gpuFacts(s: Snapshot, arch: HardwareFacts["arch"], jetson: boolean, model: string | null, l4t: string | null, file: FileReader): GpuFacts {
  const dev = s.dirs["/dev"] ?? [];
  if (jetson) {
    return {
      kind: "cuda",
      name: `${model ?? "NVIDIA Jetson"} (integrated GPU${l4t ? `, L4T ${l4t}` : ""})`,
      usable: false,
      backend: null,
      note: "node-llama-cpp's linux-arm64 prebuilt is CPU-only; CUDA needs the llama.cpp runner built for L4T when the image is built (jetson-orin --l4t)",
      unifiedMemory: true,
    };
  }
  const versionText = file("/proc/driver/nvidia/version", null);
  const driver = versionText !== null ? parseNvidiaDriver(versionText) : null;
  if (driver !== null || dev.some((d) => /^nvidia\d+$/.test(d))) {
    const models = (s.dirs["/proc/driver/nvidia/gpus"] ?? [])
      .map((id) => /^Model:\s*(.+)$/m.exec(s.files[`/proc/driver/nvidia/gpus/${id}/information`] ?? "")?.[1]?.trim())
      .filter((m): m is string => !!m);
    return {
      kind: "cuda",
      name: `${models.length > 0 ? `${models.join(", ")}, ` : ""}${driver ?? "NVIDIA GPU (device node only, no driver version)"}`,
      usable: false,
      backend: null,
      note:
        driver === null
          ? "/dev/nvidia* exists but /proc/driver/nvidia/version does not: the driver is not loaded"
          : arch === "x64"
            ? "driver loaded; not yet confirmed that node-llama-cpp's linux-x64-cuda build loads (needs the CUDA runtime)"
            : `driver loaded, but node-llama-cpp has no CUDA prebuilt for ${arch}`,
      unifiedMemory: false,
    };
  }
  const render = (s.dirs["/dev/dri"] ?? []).find((d) => d.startsWith("renderD"));
  if (render !== undefined) {
    return {
      kind: "vulkan",
      name: `DRM render node ${render}`,
      usable: false,
      backend: null,
      note: "Vulkan offload is off: integrated GPUs on small boards rarely beat their CPU for small models",
      unifiedMemory: true,
    };
  }
  return { kind: "none", name: null, usable: false, backend: null, note: null, unifiedMemory: false };
}

function bootMedium(s: Snapshot): HardwareFacts["bootMedium"] {
  const root = rootBlockDevice(s.files["/proc/self/mountinfo"] ?? null, s.files["/proc/cmdline"] ?? null);
  const target = (root.majorMinor ? s.links[`/sys/dev/block/${root.majorMinor}`] : undefined) ?? (root.name ? s.links[`/sys/class/block/${root.name}`] : undefined);
  if (target !== undefined) {
    const disk = diskOfBlockLink(target);
    return classifyBootMedium(target, disk ? (s.files[`/sys/class/block/${disk}/device/type`] ?? null) : null);
  }
  // No sysfs link (an odd or partial snapshot): the device name alone still tells some media apart.
  const name = root.name ?? "";
  if (/^mmcblk\d/.test(name)) return "sd";
  if (/^nvme\d/.test(name)) return "nvme";
  if (/^vd[a-z]/.test(name)) return "virtio";
  return "unknown";
}
