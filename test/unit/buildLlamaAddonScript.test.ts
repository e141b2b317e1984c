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
    const unknown = run("--jobs", "4");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown argument --jobs/);
    const arch = run("--arch", "riscv64", "--print-dir");
    expect(arch.status).toBe(2);
    expect(arch.stderr).toMatch(/--arch is x64 or arm64, not riscv64/);
  });

  it("--board takes a board profile's CPU flags for a build of this machine's architecture, and refuses another's", () => {
    const own = process.arch === "x64" ? "x86_64" : "rpi4";
    const other = process.arch === "x64" ? "rpi4" : "x86_64";
    expect(run("--board", own, "--print-dir").stdout.trim()).toMatch(/localBuilds\/linux-(x64|arm64)$/);
    const foreign = run("--board", other, "--print-dir");
    expect(foreign.status).toBe(2);
    expect(foreign.stderr).toMatch(new RegExp(`board ${other} is (x64|arm64), this build is for (x64|arm64)`));
    const unknown = run("--board", "vax", "--print-dir");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/no board vax/);
  });

  // Past the tool check: the build tools and, from x64, the aarch64 cross compiler.
  it.runIf(requireTools("cmake", "g++", "git", "patch", "flock", ...(process.arch === "x64" ? ["aarch64-linux-gnu-g++"] : [])))("refuses a native build (GGML_NATIVE=ON) for another machine", () => {
    const other = process.arch === "x64" ? "arm64" : "x64";
    const native = run("--arch", other, "--isa", "-DGGML_NATIVE=ON", "--out", "/tmp/never-written");
    expect(native.status).toBe(2);
    expect(native.stderr).toMatch(process.arch === "x64" ? /GGML_NATIVE=ON tunes to the machine that builds/ : /no cross toolchain from arm64 to x64/);
  });
});
