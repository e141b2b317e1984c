// scripts/build-llama-addon.sh refuses what it cannot build before it compiles anything, naming what to fix.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";

const script = join(import.meta.dirname, "..", "..", "scripts", "build-llama-addon.sh");
const run = (...args: string[]) => spawnSync("bash", [script, ...args], { encoding: "utf8", timeout: 60_000 });

describe("scripts/build-llama-addon.sh arguments", () => {
  it("--print-dir names the default install folder, or --out", () => {
    expect(run("--print-dir").stdout.trim()).toMatch(/node-llama-cpp\/llama\/localBuilds\/linux-(x64|arm64)$/);
    expect(run("--arch", "arm64", "--out", "/tmp/somewhere", "--print-dir").stdout.trim()).toBe("/tmp/somewhere");
  });

  it("refuses an unknown argument and an architecture it has no toolchain for", () => {
    const unknown = run("--board", "rpi4");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown argument --board/);
    const arch = run("--arch", "riscv64", "--print-dir");
    expect(arch.status).toBe(2);
    expect(arch.stderr).toMatch(/--arch is x64 or arm64, not riscv64/);
  });

  // Past the tool check: the build tools and, from x64, the aarch64 cross compiler.
  it.runIf(requireTools("cmake", "g++", "git", "patch", "flock", ...(process.arch === "x64" ? ["aarch64-linux-gnu-g++"] : [])))("refuses a native build (GGML_NATIVE=ON) for another machine", () => {
    const other = process.arch === "x64" ? "arm64" : "x64";
    const native = run("--arch", other, "--isa", "-DGGML_NATIVE=ON", "--out", "/tmp/never-written");
    expect(native.status).toBe(2);
    expect(native.stderr).toMatch(process.arch === "x64" ? /GGML_NATIVE=ON tunes to the machine that builds/ : /no cross toolchain from arm64 to x64/);
  });
});
