import { describe, expect, it } from "vitest";
import { parseCpuList } from "../../hardware/parsers/cpuList.js";
import { parseCfsQuota, parseCgroupMembership, parseCpuMax, parseMemoryLimit } from "../../hardware/parsers/cgroup.js";
import { classifyBootMedium, diskOfBlockLink, rootBlockDevice } from "../../hardware/parsers/bootMedium.js";
import { parseCpuinfo } from "../../hardware/parsers/cpuinfo.js";
import { parseMeminfo } from "../../hardware/parsers/meminfo.js";
import { clusterCpus, type CpuRecord } from "../../hardware/parsers/topology.js";
import { identifyBoard, parseDtStrings, parseL4tRelease, parseNvidiaDriver } from "../../hardware/parsers/board.js";
import { parseFacts } from "../../hardware/parseFacts.js";
import { emptySnapshot } from "../../hardware/snapshot.js";

describe("hardware parsers", () => {
  it("CPU lists", () => {
    expect(parseCpuList("0-3,6,8-9\n")).toEqual([0, 1, 2, 3, 6, 8, 9]);
    expect(parseCpuList("0")).toEqual([0]);
    expect(parseCpuList("")).toBeNull();
    expect(parseCpuList("3-1")).toBeNull();
    expect(parseCpuList("a-b")).toBeNull();
  });

  it("cgroup files, v2 and v1", () => {
    expect(parseCgroupMembership("0::/system.slice/x.service\n")).toEqual({ v2: "/system.slice/x.service", cpuV1: null, memoryV1: null });
    expect(parseCgroupMembership("4:memory:/a\n2:cpu,cpuacct:/b\n0::/\n")).toEqual({ v2: "/", cpuV1: "/b", memoryV1: "/a" });
    expect(parseCpuMax("max 100000")).toBeNull();
    expect(parseCpuMax("150000 100000\n")).toBe(1.5);
    expect(parseCpuMax("banana")).toBeUndefined();
    expect(parseCfsQuota("-1", "100000")).toBeNull();
    expect(parseCfsQuota("200000", "100000")).toBe(2);
    expect(parseMemoryLimit("max\n")).toBeNull();
    expect(parseMemoryLimit("9223372036854771712")).toBeNull();
    expect(parseMemoryLimit("1073741824")).toBe(1073741824);
    expect(parseMemoryLimit("-1")).toBeUndefined();
  });

  it("boot medium from the root device's sysfs path", () => {
    expect(rootBlockDevice("27 1 254:0 / / rw - ext4 /dev/vda rw\n", null)).toEqual({ majorMinor: "254:0", name: "vda" });
    expect(rootBlockDevice("1 0 0:98 / / rw - overlay overlay rw\n", "root=/dev/md0")).toEqual({ majorMinor: null, name: "md0" });
    expect(rootBlockDevice(null, "console=tty1 root=/dev/mapper/root rw")).toEqual({ majorMinor: null, name: null });
    expect(diskOfBlockLink("../../devices/platform/x.mmc/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0/mmcblk0p2")).toBe("mmcblk0");
    expect(classifyBootMedium("../../devices/platform/x.mmc/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0/mmcblk0p2", "SD\n")).toBe("sd");
    expect(classifyBootMedium("../../devices/platform/x.mmc/mmc_host/mmc0/mmc0:0001/block/mmcblk0/mmcblk0p2", "MMC")).toBe("emmc");
    expect(classifyBootMedium("../../devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda2", null)).toBe("usb");
    expect(classifyBootMedium("../../devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1", null)).toBe("sata");
    expect(classifyBootMedium(null, null)).toBe("unknown");
  });

  it("cpuinfo: 32-bit Arm names the processor and has NEON; odd text gives nothing, no throw", () => {
    const c = parseCpuinfo("processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\nFeatures\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32\nCPU architecture: 7\nCPU part\t: 0xd03\n");
    expect(c.arch).toBe("arm");
    expect(c.modelName).toBe("ARMv7 Processor rev 4 (v7l)");
    expect(c.features).toMatchObject({ neon: true, aes: false });
    const odd = parseCpuinfo("\u0000\u0001 garbage :: : \n:\n");
    expect(odd.processors).toEqual([]);
    expect(odd.arch).toBeNull();
  });

  it("meminfo in bytes; missing fields are null", () => {
    expect(parseMeminfo("MemTotal:  1000 kB\nMemAvailable:    500 kB\n")).toEqual({ totalBytes: 1024000, availableBytes: 512000 });
    expect(parseMeminfo("MemTotal: lots\n")).toEqual({ totalBytes: null, availableBytes: null });
  });

  it("clusters by max frequency when there is no cpu_capacity (x86 hybrid: P-cores vs E-cores)", () => {
    const rec = (id: number, f: number, siblings: number[]): CpuRecord => ({ id, coreId: null, packageId: null, siblings, capacity: null, maxFreqKhz: f, part: null });
    const cpus = [rec(0, 4_700_000, [0, 1]), rec(1, 4_700_000, [0, 1]), rec(2, 4_500_000, [2, 3]), rec(3, 4_500_000, [2, 3]), rec(4, 3_300_000, [4]), rec(5, 3_300_000, [5])];
    expect(clusterCpus(cpus).map((c) => c.cpus)).toEqual([[0, 1, 2, 3], [4, 5]]);
  });

  it("clusters by Arm core type when neither capacity nor frequency is known", () => {
    const rec = (id: number, part: string): CpuRecord => ({ id, coreId: null, packageId: null, siblings: null, capacity: null, maxFreqKhz: null, part });
    expect(clusterCpus([rec(0, "0xd05"), rec(1, "0xd05"), rec(2, "0xd0b"), rec(3, "0xd0b")]).map((c) => c.cpus)).toEqual([[2, 3], [0, 1]]);
  });

  it("device tree, L4T and NVIDIA driver strings", () => {
    expect(parseDtStrings("raspberrypi,4-model-b\0brcm,bcm2711\0")).toEqual(["raspberrypi,4-model-b", "brcm,bcm2711"]);
    expect(identifyBoard(["raspberrypi,5-model-b", "brcm,bcm2712"], "arm64", { uefi: false, jetson: false })).toBe("rpi5");
    expect(identifyBoard([], "arm64", { uefi: true, jetson: false })).toBe("arm64-uefi");
    expect(identifyBoard([], "x64", { uefi: true, jetson: false })).toBe("x86_64");
    expect(parseL4tRelease("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref")).toBe("R35.4.1");
    expect(parseL4tRelease("nonsense")).toBeNull();
    expect(parseNvidiaDriver("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.120  Fri Sep 13")).toBe("NVIDIA driver 550.120");
  });

  it("an unreadable file is named in a warning", () => {
    const s = emptySnapshot();
    s.unreadable["/proc/cpuinfo"] = "EACCES";
    s.files["/proc/meminfo"] = "MemTotal: 2048000 kB\n";
    const { warnings, facts } = parseFacts(s);
    expect(warnings.some((w) => w.startsWith("/proc/cpuinfo: unreadable (EACCES)"))).toBe(true);
    expect(facts.memory.totalBytes).toBe(2048000 * 1024);
  });

  it("affinity and availableParallelism cap the usable CPUs", () => {
    const s = emptySnapshot();
    s.files["/sys/devices/system/cpu/online"] = "0-7\n";
    s.files["/proc/self/status"] = "Cpus_allowed_list:\t2-4\n";
    expect(parseFacts(s).facts.cpu.usableCpus).toBe(3);
    expect(parseFacts(s, { availableParallelism: 2 }).facts.cpu.usableCpus).toBe(2);
    s.files["/sys/fs/cgroup/cpu.max"] = "50000 100000\n";
    expect(parseFacts(s).facts.cpu.usableCpus).toBe(1);
  });
});
