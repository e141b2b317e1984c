import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { detectHardware } from "../../hardware/detectHardware.js";
import { renderHardwareReport } from "../../hardware/renderHardwareReport.js";
import { tune } from "../../hardware/tune.js";

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
