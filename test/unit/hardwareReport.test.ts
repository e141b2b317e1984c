import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseCpuinfo } from "../../hardware/parsers/cpuinfo.js";
import { detectHardware } from "../../hardware/detectHardware.js";
import { renderHardwareReport } from "../../hardware/renderHardwareReport.js";
import { tune } from "../../hardware/tune.js";
import type { LocalBuildCheck } from "../../hardware/llamaLocalBuild.js";
import { buildIsaRefusal, parseBuildIsa } from "../../hardware/parsers/llamaBuildIsa.js";
import { findBoard } from "../../image/boards/registry.js";

describe("sovereign hardware text report", () => {
  it("shows the facts, every tuning choice with its source and reason, and the warnings", async () => {
    const report = await detectHardware({ root: join(import.meta.dirname, "..", "fixtures", "hardware", "rk3588-rock5b") });
    const tuning = tune(report.facts);
    const text = renderHardwareReport({ facts: report.facts, warnings: ["/proc/x: test warning"] }, tuning, null);
    expect(text).toContain("Radxa ROCK 5 Model B");
    expect(text).toMatch(/4 performance, 4 efficiency/);
    expect(Object.keys(tuning).length).toBeGreaterThan(5);
    for (const [key, choice] of Object.entries(tuning)) {
      const line = text.split("\n").find((l) => l.trimStart().startsWith(`${key} `));
      expect(line, key).toBeDefined();
      expect(line).toContain(choice.reason);
      expect(line).toContain(choice.source);
    }
    expect(text).toContain("/proc/x: test warning");
  });
});

describe("sovereign hardware: which llama.cpp binary loads here", () => {
  it("names the local build where this CPU runs it, the prebuilt and the reason where it is refused, and the prebuilt where none is installed", async () => {
    const report = await detectHardware({ root: join(import.meta.dirname, "..", "fixtures", "hardware", "rpi4-8gb") });
    const tuning = tune(report.facts);
    const row = (check: LocalBuildCheck): string | undefined =>
      renderHardwareReport({ facts: report.facts, warnings: [] }, tuning, null, check).split("\n").find((l) => l.trimStart().startsWith("llama.cpp "));
    // The rpi5 image's build, as the image builder writes it, against the Pi 4's recorded CPU.
    const isa = parseBuildIsa(findBoard("rpi5")!.llamaCpu.isa.join("\n"));
    const refusal = buildIsaRefusal(isa, parseCpuinfo(readFileSync(join(import.meta.dirname, "..", "fixtures", "hardware", "rpi4-8gb", "proc", "cpuinfo"), "utf8")).flags);
    expect(row({ dir: "/x", installed: true, refusal })).toMatch(/llama\.cpp\s+node-llama-cpp's prebuilt: the local build is not loaded, it was compiled for .*asimddp.*which this CPU lacks$/);
    expect(row({ dir: "/x", installed: true, refusal: null })).toMatch(/the local build \(persistent thread pool.*this CPU runs it$/);
    expect(row({ dir: "/x", installed: false, refusal: null })).toMatch(/node-llama-cpp's prebuilt \(no local build installed\)$/);
    expect(renderHardwareReport({ facts: report.facts, warnings: [] }, tuning, null)).not.toMatch(/^\s*llama\.cpp /m);
  });
});
