/** What detection found on this machine. Every field is plain data so it can be printed, stored and used as a fixture. */
export interface HardwareFacts {
  /** Board or machine model, e.g. "Raspberry Pi 4 Model B Rev 1.4", from the device tree or DMI. */
  model: string | null;
  /** Our board id when recognised ("rpi4", "rpi5", "jetson-orin", ...), else null. */
  boardId: string | null;
  /** Device-tree `compatible` strings (empty on x86). */
  compatible: string[];
  arch: "x64" | "arm64" | "arm" | "other";
  cpu: CpuFacts;
  memory: MemoryFacts;
  gpu: GpuFacts;
  /** Jetson L4T release when /etc/nv_tegra_release exists, e.g. "R36.3.0". */
  l4tRelease: string | null;
  bootMedium: "sd" | "emmc" | "usb" | "nvme" | "sata" | "virtio" | "unknown";
  /** Limits imposed by cgroup v2 (containers, systemd slices). */
  cgroup: { cpuLimit: number | null; memoryLimitBytes: number | null };
}

export interface CpuFacts {
  /** e.g. "Cortex-A72" or "AMD EPYC 7B13". */
  modelName: string | null;
  /** Logical CPUs online on the machine. */
  logicalCpus: number;
  /** Logical CPUs this process may use: online, affinity and cgroup quota combined (floor, at least 1). */
  usableCpus: number;
  /** Physical cores (SMT siblings counted once) among the usable CPUs. */
  physicalCores: number;
  /** Physical cores in the fastest cluster (all of them on a symmetric CPU). */
  performanceCores: number;
  /** Physical cores outside the fastest cluster (big.LITTLE efficiency cores). */
  efficiencyCores: number;
  smt: boolean;
  /** Clusters by capacity or max frequency, fastest first. */
  clusters: Array<{ cpus: number[]; capacity: number | null; maxFreqKhz: number | null }>;
  features: { aes: boolean; dotprod: boolean; i8mm: boolean; avx2: boolean; avx512: boolean; fma: boolean; neon: boolean };
}

export interface MemoryFacts {
  totalBytes: number;
  availableBytes: number | null;
  /** min(total, cgroup limit): what this process can really use. */
  usableBytes: number;
}

export interface GpuFacts {
  kind: "none" | "cuda" | "vulkan" | "unknown";
  /** Human description, e.g. "Jetson Orin (integrated, L4T R36.3.0)". */
  name: string | null;
  /**
   * Whether the engine can use it now: only true once `probeEngineGpu` has
   * loaded node-llama-cpp's build for it on this machine. /proc and /sys alone
   * never make it true, because a driver is not a working llama.cpp backend.
   */
  usable: boolean;
  /** The node-llama-cpp GPU build that loaded (getLlama's `gpu` option) when usable; null otherwise. */
  backend: "cuda" | "vulkan" | null;
  /** Why it is or is not usable, for the CLI. */
  note: string | null;
  /** Unified memory (Jetson): GPU and CPU share RAM. */
  unifiedMemory: boolean;
}

/** Facts plus the problems met while reading them: each names the file it concerns. */
export interface HardwareReport {
  facts: HardwareFacts;
  warnings: string[];
}
