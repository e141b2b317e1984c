import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CALIBRATION_FILE, loadCalibration, saveCalibration, validateCalibration } from "../../hardware/calibrationStore.js";
import type { Calibration } from "../../hardware/Tuning.js";

const good: Calibration = {
  measuredAt: "2026-11-20T10:00:00.000Z",
  model: "stories260K.gguf",
  usableCpus: 2,
  bestPromptThreads: 2,
  bestGenerationThreads: 1,
  sweep: [
    { threads: 1, promptTokensPerSecond: 100, generationTokensPerSecond: 50 },
    { threads: 2, promptTokensPerSecond: 180, generationTokensPerSecond: 45 },
  ],
};

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), "sovereign-cal-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("calibration store", () => {
  it("saves atomically (no temp file left, 0600) and loads back", () => {
    const d = tmp();
    saveCalibration(d, good);
    expect(readdirSync(d)).toEqual([CALIBRATION_FILE]);
    expect(statSync(join(d, CALIBRATION_FILE)).mode & 0o777).toBe(0o600);
    expect(loadCalibration(d, { usableCpus: 2, onWarning: () => expect.fail("no warning expected") })).toEqual(good);
  });

  it("no file: null and no warning", () => {
    const warnings: string[] = [];
    expect(loadCalibration(tmp(), { onWarning: (w) => warnings.push(w) })).toBeNull();
    expect(warnings).toEqual([]);
  });

  it("a malformed file is ignored with a warning naming it", () => {
    for (const text of ["{not json", JSON.stringify({ ...good, sweep: [] }), JSON.stringify({ ...good, usableCpus: 0 }), "[]"]) {
      const d = tmp();
      writeFileSync(join(d, CALIBRATION_FILE), text);
      const warnings: string[] = [];
      expect(loadCalibration(d, { onWarning: (w) => warnings.push(w) })).toBeNull();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(CALIBRATION_FILE);
    }
  });

  it("a calibration from another CPU count is ignored with a warning", () => {
    const d = tmp();
    saveCalibration(d, good);
    const warnings: string[] = [];
    expect(loadCalibration(d, { usableCpus: 4, onWarning: (w) => warnings.push(w) })).toBeNull();
    expect(warnings[0]).toMatch(/measured with 2 usable CPUs, now 4/);
  });

  it("refuses to save an invalid calibration", () => {
    expect(validateCalibration({ ...good, bestPromptThreads: 0 })).not.toBeNull();
    expect(() => saveCalibration(tmp(), { ...good, measuredAt: "yesterday" })).toThrow(/invalid calibration/);
  });
});
