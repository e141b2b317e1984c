import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { detectHardware } from "../../hardware/detectHardware.js";
import { readSnapshot } from "../../hardware/readSnapshot.js";
import { writeSnapshot } from "../../hardware/writeSnapshot.js";
import type { HardwareFacts } from "../../hardware/HardwareFacts.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "hardware");
const detect = (name: string) => detectHardware({ root: join(FIXTURES, name) });

type Expect = { [K in keyof HardwareFacts]?: unknown };
const expected: Record<string, Expect> = {
  "rpi4-2gb": {
    boardId: "rpi4", arch: "arm64", model: "Raspberry Pi 4 Model B Rev 1.4", bootMedium: "sd",
    cpu: { modelName: "Cortex-A72", usableCpus: 4, physicalCores: 4, performanceCores: 4, efficiencyCores: 0, smt: false, features: { aes: false, dotprod: false, neon: true } },
    gpu: { kind: "vulkan", usable: false },
  },
  "rpi4-8gb": {
    boardId: "rpi4", bootMedium: "usb", compatible: ["raspberrypi,4-model-b", "brcm,bcm2711"],
    cpu: { usableCpus: 4, features: { aes: false, dotprod: false } },
  },
  "rpi5-8gb": {
    boardId: "rpi5", arch: "arm64", bootMedium: "nvme",
    cpu: { modelName: "Cortex-A76", usableCpus: 4, physicalCores: 4, features: { aes: true, dotprod: true, i8mm: false } },
  },
  "rpi-zero-2w": {
    boardId: null, model: "Raspberry Pi Zero 2 W Rev 1.0", bootMedium: "sd",
    cpu: { modelName: "Cortex-A53", usableCpus: 4, features: { aes: false, dotprod: false } },
  },
  "jetson-orin-nano": {
    boardId: "jetson-orin", l4tRelease: "R36.3.0", bootMedium: "nvme",
    cpu: { modelName: "Cortex-A78AE", usableCpus: 6, physicalCores: 6, performanceCores: 6, features: { aes: true, dotprod: true } },
    gpu: { kind: "cuda", usable: false, backend: null, unifiedMemory: true },
  },
  "rk3588-rock5b": {
    boardId: null, bootMedium: "emmc",
    cpu: { modelName: "Cortex-A55 + Cortex-A76", logicalCpus: 8, usableCpus: 8, physicalCores: 8, performanceCores: 4, efficiencyCores: 4, smt: false },
  },
  "x86-ryzen7-5800x-smt": {
    boardId: "x86_64", arch: "x64", bootMedium: "nvme", model: "Micro-Star International Co., Ltd. MS-7C56",
    cpu: { logicalCpus: 16, usableCpus: 16, physicalCores: 8, performanceCores: 8, efficiencyCores: 0, smt: true, features: { aes: true, avx2: true, avx512: false, fma: true } },
    // A loaded driver is not a working llama.cpp backend: only the engine probe makes a GPU usable.
    gpu: { kind: "cuda", usable: false, backend: null, unifiedMemory: false },
  },
  "container-2cpu": {
    arch: "x64", bootMedium: "unknown",
    cgroup: { cpuLimit: 2, memoryLimitBytes: 4294967296 },
    cpu: { logicalCpus: 16, usableCpus: 2, physicalCores: 2, performanceCores: 2, smt: true },
    memory: { usableBytes: 4294967296 },
  },
  "sandbox-epyc-2vcpu": {
    arch: "x64", bootMedium: "virtio",
    cpu: { modelName: "AMD EPYC", logicalCpus: 2, usableCpus: 2, features: { aes: true, avx2: true, avx512: true } },
  },
};

describe("hardware facts from recorded fixtures", () => {
  for (const [name, want] of Object.entries(expected)) {
    it(`${name}: parses what the board shows, without warnings`, async () => {
      const { facts, warnings } = await detect(name);
      expect(warnings).toEqual([]);
      expect(facts).toMatchObject(want);
      expect(facts.cpu.usableCpus).toBeGreaterThanOrEqual(1);
      expect(facts.cpu.usableCpus).toBeLessThanOrEqual(facts.cpu.logicalCpus);
      expect(facts.cpu.physicalCores).toBeLessThanOrEqual(facts.cpu.usableCpus);
      expect(facts.cpu.performanceCores + facts.cpu.efficiencyCores).toBe(facts.cpu.physicalCores);
      expect(facts.memory.usableBytes).toBeLessThanOrEqual(facts.memory.totalBytes);
    });
  }

  it("RK3588: the A76 cluster (capacity 1024) comes first, the A55 cluster after", async () => {
    const { facts } = await detect("rk3588-rock5b");
    expect(facts.cpu.clusters.map((c) => [c.cpus, c.capacity])).toEqual([
      [[4, 5, 6, 7], 1024],
      [[0, 1, 2, 3], 414],
    ]);
  });

  it("x86 with favoured cores: small max-frequency differences stay one cluster", async () => {
    const { facts } = await detect("x86-ryzen7-5800x-smt");
    expect(facts.cpu.clusters).toHaveLength(1);
    expect(facts.gpu.name).toContain("RTX 3060");
  });

  it("memory sizes come from MemTotal, in bytes", async () => {
    expect((await detect("rpi4-2gb")).facts.memory.totalBytes).toBe(1891804 * 1024);
    expect((await detect("rpi4-8gb")).facts.memory.totalBytes).toBeGreaterThan(7 * 2 ** 30);
  });
});

describe("bad input degrades with warnings naming the file", () => {
  it("broken fixture: missing cpuinfo, garbage meminfo, online and cgroup files", async () => {
    const { facts, warnings } = await detect("broken");
    const mentions = (file: string) => warnings.some((w) => w.startsWith(file));
    expect(mentions("/proc/cpuinfo")).toBe(true);
    expect(mentions("/proc/meminfo")).toBe(true);
    expect(mentions("/sys/devices/system/cpu/online")).toBe(true);
    expect(mentions("/sys/fs/cgroup/cpu.max")).toBe(true);
    expect(mentions("/sys/fs/cgroup/memory.max")).toBe(true);
    expect(mentions("/etc/nv_tegra_release")).toBe(true);
    expect(facts.cpu.features).toMatchObject({ aes: false, dotprod: false, avx2: false });
    expect(facts.memory.totalBytes).toBe(512 * 2 ** 20);
    expect(facts.cpu.usableCpus).toBe(2);
    expect(facts.boardId).toBeNull();
    expect(facts.gpu.kind).toBe("none");
    expect(facts.cgroup.cpuLimit).toBeNull();
  });

  it("an empty root gives conservative facts (1 CPU, 512 MiB) and warnings", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sovereign-hw-empty-"));
    try {
      const { facts, warnings } = await detectHardware({ root: dir });
      expect(facts.cpu.usableCpus).toBe(1);
      expect(facts.memory.usableBytes).toBe(512 * 2 ** 20);
      expect(warnings.length).toBeGreaterThanOrEqual(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a root that does not exist does not throw", async () => {
    await expect(detectHardware({ root: "/nonexistent/sovereign-hw" })).resolves.toHaveProperty("warnings");
  });
});

describe("live detection and recording", () => {
  it("detects this machine without throwing, within its affinity", async () => {
    const { facts } = await detectHardware();
    expect(facts.cpu.usableCpus).toBeGreaterThanOrEqual(1);
    expect(facts.cpu.usableCpus).toBeLessThanOrEqual(availableParallelism());
    expect(facts.memory.usableBytes).toBeGreaterThan(0);
  });

  it("a recorded snapshot reads back identically", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sovereign-hw-record-"));
    try {
      for (const name of ["rpi4-2gb", "rk3588-rock5b", "container-2cpu", "x86-ryzen7-5800x-smt"]) {
        const original = await readSnapshot(join(FIXTURES, name));
        writeSnapshot(original, join(dir, name));
        expect(await readSnapshot(join(dir, name))).toEqual(original);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
