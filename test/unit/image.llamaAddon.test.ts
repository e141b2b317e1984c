// The image's llama.cpp build step, its pure parts: what it builds for which board on which host, and how it reads
// the image's os-release and the check it runs in the rootfs.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findBoard } from "../../image/boards/registry.js";
import { LLAMA_CHECK_MAX_MODEL_BYTES, parseLlamaCheck, parseOsRelease, planLlamaAddon } from "../../image/lib/llamaAddon.js";
import { parseCpuinfo } from "../../hardware/parsers/cpuinfo.js";

const flags = (dir: string): string[] => parseCpuinfo(readFileSync(join(import.meta.dirname, "../fixtures/hardware", dir, "proc/cpuinfo"), "utf8")).flags;
const ryzen = { arch: "x64", cpuFlags: flags("x86-ryzen7-5800x-smt") };

describe("planLlamaAddon", () => {
  it("an arm64 board from an x64 host: cross-compiled, stripped by the aarch64 strip, tried as the board's core under qemu-user", () => {
    const plan = planLlamaAddon(findBoard("rpi5")!, ryzen, []);
    expect(plan).toMatchObject({ arch: "arm64", folder: "linux-arm64", cross: true, strip: "aarch64-linux-gnu-strip", qemuCpu: "cortex-a76", notTried: null, model: undefined });
    expect(plan.isa).toContain("-DGGML_CPU_ARM_ARCH=armv8.2-a+dotprod+fp16");
    expect(planLlamaAddon(findBoard("rpi4")!, ryzen, []).qemuCpu).toBe("cortex-a72");
  });

  it("the x86 board on an x86 host: built and tried natively; a host without AVX2 builds it but cannot try it", () => {
    expect(planLlamaAddon(findBoard("x86_64")!, ryzen, [])).toMatchObject({ arch: "x64", cross: false, strip: "strip", qemuCpu: undefined, notTried: null });
    const old = planLlamaAddon(findBoard("x86_64")!, { arch: "x64", cpuFlags: ryzen.cpuFlags.filter((f) => f !== "avx2") }, []);
    expect(old.notTried).toMatch(/this build host cannot run it: it was compiled for avx2, which this CPU lacks/);
  });

  it("generates with the smallest --model, and with none above the cap", () => {
    const models = [{ path: "/m/big.gguf", bytes: 600 * 1024 ** 2 }, { path: "/m/tiny.gguf", bytes: 900_000 }];
    expect(planLlamaAddon(findBoard("rpi4")!, ryzen, models)).toMatchObject({ model: "/m/tiny.gguf", modelName: "tiny.gguf" });
    expect(planLlamaAddon(findBoard("rpi4")!, ryzen, [{ path: "/m/big.gguf", bytes: LLAMA_CHECK_MAX_MODEL_BYTES + 1 }]).model).toBeUndefined();
  });
});

describe("the rootfs facts the step reads", () => {
  it("reads NAME and VERSION_ID from os-release as node-llama-cpp does (quotes off)", () => {
    const trixie = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nNAME="Debian GNU/Linux"\nVERSION_ID="13"\nVERSION="13 (trixie)"\nID=debian\n';
    expect(parseOsRelease(trixie)).toEqual({ name: "Debian GNU/Linux", version: "13" });
    expect(parseOsRelease("NAME=Alpine\nVERSION=3.20\n")).toEqual({ name: "Alpine", version: "3.20" });
  });

  it("finds the check's result line after node-llama-cpp's own output; no line, no build type", () => {
    const out = 'warn: something\nLLAMA_CHECK {"buildType":"localBuild","systemInfo":"CPU : NEON = 1","generated":4}\n';
    expect(parseLlamaCheck(out)).toEqual({ buildType: "localBuild", systemInfo: "CPU : NEON = 1", generated: 4 });
    expect(parseLlamaCheck("Illegal instruction\n")).toEqual({ buildType: null, systemInfo: "", generated: null });
  });
});
