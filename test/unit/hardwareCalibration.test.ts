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

describe("calibrate (thread sweep logic)", () => {
  it("tries only counts within the usable CPUs, keeps each count's best run, and picks the fastest", async () => {
    const { calibrate, sweepCandidates } = await import("../../hardware/calibrate.js");
    expect(sweepCandidates(2)).toEqual([1, 2]);
    expect(sweepCandidates(16)).toEqual([1, 2, 3, 4, 6, 8, 10, 12, 14, 16]);
    const tried: number[] = [];
    let call = 0;
    const bench = {
      modelName: "fake.gguf",
      // Prompt scales with threads; generation peaks at 3; every other run is disturbed (half speed).
      measure: async (t: number) => {
        tried.push(t);
        const slow = call++ % 2 === 0 ? 0.5 : 1;
        return { promptTokensPerSecond: 10 * t * slow, generationTokensPerSecond: (t <= 3 ? 2 * t : 6 - (t - 3)) * slow };
      },
      dispose: async () => {},
    };
    const c = await calibrate(bench, 4, { candidates: [1, 2, 3, 4, 8], now: () => new Date("2026-11-20T00:00:00Z") });
    expect([...new Set(tried)]).toEqual([1, 2, 3, 4]);
    expect(c.sweep.find((p) => p.threads === 4)).toEqual({ threads: 4, promptTokensPerSecond: 40, generationTokensPerSecond: 5 });
    expect(c.bestPromptThreads).toBe(4);
    expect(c.bestGenerationThreads).toBe(3);
    expect(c.usableCpus).toBe(4);
    expect(validateCalibration(c)).toBeNull();
  });
});
