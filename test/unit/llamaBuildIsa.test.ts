// The instruction sets a local llama.cpp build needs (sovereign-isa, written by scripts/build-llama-addon.sh)
// against recorded /proc/cpuinfo files: a build carried to a CPU without them must not load (SIGILL).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCpuinfo } from "../../hardware/parsers/cpuinfo.js";
import { buildIsaRefusal, parseBuildIsa } from "../../hardware/parsers/llamaBuildIsa.js";

const root = join(import.meta.dirname, "..", "..");
const fixture = (...p: string[]): string => readFileSync(join(root, "test", "fixtures", ...p), "utf8");
const cpuFlags = (board: string): string[] => parseCpuinfo(fixture("hardware", board, "proc", "cpuinfo")).flags;
/** Recorded from the build made on the sandbox's EPYC (2026-12-05). */
const sandboxBuild = parseBuildIsa(fixture("llama", "sovereign-isa-sandbox-epyc"));

describe("llama.cpp build instruction sets", () => {
  it("the build made on the sandbox's EPYC needs AVX-512 and AVX-VNNI, never AMX", () => {
    expect(sandboxBuild.unknown).toEqual([]);
    expect(sandboxBuild.needs).toEqual(expect.arrayContaining(["avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx_vnni"]));
    expect(sandboxBuild.needs.some((f) => f.startsWith("amx"))).toBe(false);
  });

  it("loads on the CPU it was built on and is refused on a Ryzen 7 5800X, naming what that CPU lacks", () => {
    expect(buildIsaRefusal(sandboxBuild, cpuFlags("sandbox-epyc-2vcpu"))).toBeNull();
    const refusal = buildIsaRefusal(sandboxBuild, cpuFlags("x86-ryzen7-5800x-smt"));
    expect(refusal).toMatch(/compiled for .*avx512f.*which this CPU lacks/);
    expect(refusal).not.toMatch(/\bavx2\b/);
  });

  it("an AVX2 build runs on the Ryzen; an x86 build is refused by an Arm CPU", () => {
    const avx2 = parseBuildIsa("-DGGML_NATIVE=OFF\n-DGGML_AVX=ON\n-DGGML_AVX2=ON\n-DGGML_FMA=ON\n-DGGML_F16C=ON\n-DGGML_BMI2=ON\n-DGGML_AVX512=OFF\n");
    expect(buildIsaRefusal(avx2, cpuFlags("x86-ryzen7-5800x-smt"))).toBeNull();
    expect(buildIsaRefusal(avx2, cpuFlags("rpi5-8gb"))).toMatch(/avx, avx2/);
  });

  it("a native build made on a Pi 5 records its CPU's features: a Pi 4 (no dot product) refuses it", () => {
    const pi5 = parseBuildIsa(`-DGGML_NATIVE=ON\ncpu-flags: ${cpuFlags("rpi5-8gb").join(" ")}\n`);
    expect(buildIsaRefusal(pi5, cpuFlags("rpi5-8gb"))).toBeNull();
    expect(buildIsaRefusal(pi5, cpuFlags("rpi4-8gb"))).toMatch(/asimddp.*lacks/);
  });

  it("an Arm build names its -march (GGML_CPU_ARM_ARCH): Armv8-A runs on a Pi 4; Armv8.2 needs LSE atomics, which the Pi 4 lacks", () => {
    const v8 = parseBuildIsa("-DGGML_NATIVE=OFF\n-DGGML_CPU_ARM_ARCH=armv8-a\n");
    expect(v8).toEqual({ needs: ["asimd", "fp"], unknown: [] });
    expect(buildIsaRefusal(v8, cpuFlags("rpi4-8gb"))).toBeNull();
    expect(buildIsaRefusal(v8, cpuFlags("x86-ryzen7-5800x-smt"))).toMatch(/asimd, fp/);
    // Without +dotprod an Armv8.2 build still asks for what Armv8.1 made mandatory.
    const v82 = parseBuildIsa("-DGGML_CPU_ARM_ARCH=armv8.2-a\n");
    expect(buildIsaRefusal(v82, cpuFlags("rpi4-8gb"))).toMatch(/atomics/);
    expect(buildIsaRefusal(parseBuildIsa("-DGGML_CPU_ARM_ARCH=armv8.2-a+dotprod+fp16+i8mm\n"), cpuFlags("rpi5-8gb"))).toMatch(/compiled for i8mm, which/);
    // "+no…" takes away; a level or an extension it does not know cannot be checked.
    expect(parseBuildIsa("-DGGML_CPU_ARM_ARCH=armv8-a+nofp16\n").unknown).toEqual([]);
    expect(parseBuildIsa("-DGGML_CPU_ARM_ARCH=armv9-a\n").unknown).toEqual(["GGML_CPU_ARM_ARCH=armv9-a (level armv9-a)"]);
    expect(buildIsaRefusal(parseBuildIsa("-DGGML_CPU_ARM_ARCH=armv8.2-a+sme\n"), cpuFlags("rpi5-8gb"))).toMatch(/\+sme.*cannot be checked/);
  });

  it("what it cannot check is refused: a native build without its CPU's flags, an option it does not know", () => {
    expect(buildIsaRefusal(parseBuildIsa("-DGGML_NATIVE=ON\n"), cpuFlags("rpi5-8gb"))).toMatch(/GGML_NATIVE .*cannot be checked/);
    expect(buildIsaRefusal(parseBuildIsa("-DGGML_AVX2=ON\n-DGGML_AVX10=ON\n"), cpuFlags("sandbox-epyc-2vcpu"))).toMatch(/GGML_AVX10/);
    // Options that are OFF and lines that are not options ask for nothing.
    expect(parseBuildIsa("-DGGML_AVX512=OFF\n# comment\n\ngarbage\n")).toEqual({ needs: [], unknown: [] });
  });

  it("what scripts/llama-isa.sh picks on this machine passes the check against this machine's CPU", () => {
    const flags = execFileSync("bash", ["-c", `source '${join(root, "scripts", "llama-isa.sh")}'; printf '%s\\n' "\${llama_isa_flags[@]}"`], { encoding: "utf8" });
    const own = parseCpuinfo(readFileSync("/proc/cpuinfo", "utf8")).flags;
    const isa = parseBuildIsa(flags.includes("-DGGML_NATIVE=ON") ? `${flags}cpu-flags: ${own.join(" ")}\n` : flags);
    expect(buildIsaRefusal(isa, own)).toBeNull();
  });
});
