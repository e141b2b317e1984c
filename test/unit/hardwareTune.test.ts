import { beforeAll, describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { detectHardware } from "../../hardware/detectHardware.js";
import type { HardwareFacts } from "../../hardware/HardwareFacts.js";
import { tune } from "../../hardware/tune.js";
import { tuneForConfig } from "../../hardware/tuneForConfig.js";
import { bestForMix } from "../../hardware/tuneThreads.js";
import { kvBytesPerToken, ASSUMED_MODEL } from "../../hardware/tuneMemory.js";
import type { Calibration, ModelShape, Tuning } from "../../hardware/Tuning.js";
import { resolveConfig } from "../../appliance/config/resolveConfig.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "hardware");
const names = readdirSync(FIXTURES, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
const facts: Record<string, HardwareFacts> = {};

beforeAll(async () => {
  for (const n of names) facts[n] = (await detectHardware({ root: join(FIXTURES, n) })).facts;
});

const get = (n: string): HardwareFacts => {
  const f = facts[n];
  if (!f) throw new Error(`no fixture ${n}`);
  return f;
};

function calibration(usableCpus: number, over: Partial<Calibration> = {}): Calibration {
  return {
    measuredAt: "2026-11-20T10:00:00.000Z",
    model: "bench-1b-q4_0.gguf",
    usableCpus,
    bestPromptThreads: 64,
    bestGenerationThreads: 64,
    sweep: [1, 2, 3, 4, 8, 16, 64].map((t) => ({ threads: t, promptTokensPerSecond: 10 * t, generationTokensPerSecond: 5 + t })),
    ...over,
  };
}

const threadCounts = (t: Tuning): number[] => [t.promptThreads.value, t.generationThreads.value, t.engineThreads.value, t.embeddingThreads.value];

describe("tune: thread counts", () => {
  it("covers every fixture", () => {
    expect(names.length).toBeGreaterThanOrEqual(10);
  });

  it("never more threads than usable CPUs, for any fixture and any calibration", () => {
    for (const n of names) {
      const f = get(n);
      const cals = [null, calibration(f.cpu.usableCpus), calibration(f.cpu.usableCpus, { bestPromptThreads: 1, bestGenerationThreads: 1 }), calibration(f.cpu.usableCpus + 3)];
      for (const c of cals) {
        for (const t of threadCounts(tune(f, {}, c))) {
          expect(t, `${n} with ${JSON.stringify(c?.bestPromptThreads)}`).toBeGreaterThanOrEqual(1);
          expect(t, n).toBeLessThanOrEqual(f.cpu.usableCpus);
        }
      }
    }
  });

  it("2-CPU machines keep one core for the event loop and run llama.cpp on the other (not node-llama-cpp's max(4, cores))", () => {
    for (const n of ["container-2cpu", "sandbox-epyc-2vcpu"]) {
      const t = tune(get(n));
      expect(t.reservedCores.value, n).toBe(1);
      expect(t.engineThreads.value, n).toBe(1);
      expect(t.generationThreads.value, n).toBe(1);
      // The reason names what the reserved core costs, not only what it buys.
      expect(t.reservedCores.reason, n).toMatch(/one of 2 cores stays free/);
      expect(t.reservedCores.reason, n).toMatch(/prompt processing gives up/);
    }
  });

  it("a 2-CPU machine can still run both threads when the config says so", () => {
    const t = tune(get("container-2cpu"), { reservedCores: 0 });
    expect(t.engineThreads.value).toBe(2);
    expect(t.promptThreads.value).toBe(2);
  });

  it("RK3588 big.LITTLE: only the 4 performance cores run inference", () => {
    const t = tune(get("rk3588-rock5b"));
    expect(t.promptThreads.value).toBe(4);
    expect(t.engineThreads.value).toBeLessThanOrEqual(4);
    expect(t.generationThreads.value).toBeLessThanOrEqual(4);
    expect(t.promptThreads.reason).toMatch(/efficiency/);
    expect(t.reservedCores.value).toBe(0);
  });

  it("x86 8c/16t: one thread per physical core, not per SMT thread", () => {
    const t = tune(get("x86-ryzen7-5800x-smt"));
    expect(t.promptThreads.value).toBe(8);
    expect(t.generationThreads.value).toBeLessThanOrEqual(8);
    expect(t.promptThreads.reason).toMatch(/SMT/);
  });

  it("4-core symmetric boards keep one core for the event loop", () => {
    for (const n of ["rpi4-2gb", "rpi5-8gb"]) {
      const t = tune(get(n));
      expect(t.reservedCores.value, n).toBe(1);
      expect(t.promptThreads.value, n).toBe(3);
    }
  });

  it("engineThreads explains the single count node-llama-cpp takes", () => {
    for (const n of names) expect(tune(get(n)).engineThreads.reason).toMatch(/one count for both phases/);
  });

  it("a calibration for this CPU set beats the heuristics; one for another set is ignored with a reason", () => {
    const f = get("rpi5-8gb");
    const good = calibration(4, { bestPromptThreads: 4, bestGenerationThreads: 2 });
    const t = tune(f, {}, good);
    expect(t.promptThreads).toMatchObject({ value: 4, source: "calibration" });
    expect(t.generationThreads).toMatchObject({ value: 2, source: "calibration" });
    expect(t.engineThreads.source).toBe("calibration");
    const stale = tune(f, {}, calibration(8, { bestPromptThreads: 8 }));
    expect(stale.promptThreads.source).toBe("heuristic");
    expect(stale.promptThreads.reason).toMatch(/calibration ignored/);
  });

  it("bestForMix picks the count with the shortest expected turn, within the usable CPUs", () => {
    const c = calibration(4, {
      sweep: [
        { threads: 1, promptTokensPerSecond: 10, generationTokensPerSecond: 4 },
        { threads: 2, promptTokensPerSecond: 19, generationTokensPerSecond: 7 },
        { threads: 3, promptTokensPerSecond: 27, generationTokensPerSecond: 8 },
        { threads: 4, promptTokensPerSecond: 34, generationTokensPerSecond: 6 },
        { threads: 6, promptTokensPerSecond: 90, generationTokensPerSecond: 20 },
      ],
    });
    // 3: 512/27 + 128/8 = 35.0 s; 4: 512/34 + 128/6 = 36.4 s; 6 is beyond the 4 usable CPUs.
    expect(bestForMix(c, 4)).toBe(3);
  });
});

describe("tune: overrides win", () => {
  it("every overridable value takes the override, marked as such", () => {
    const t = tune(get("rpi4-2gb"), {
      generationThreads: 2, promptThreads: 3, parallelSequences: 3, contextSize: 1024, batchSize: 128,
      gpuLayers: 7, embeddingThreads: 1, modelRamBudgetMb: 900, sqliteCacheMb: 16, reservedCores: 0,
    }, calibration(4, { bestPromptThreads: 4, bestGenerationThreads: 4 }));
    expect(t.generationThreads).toMatchObject({ value: 2, source: "override" });
    expect(t.promptThreads).toMatchObject({ value: 3, source: "override" });
    expect(t.engineThreads).toMatchObject({ value: 3, source: "override" });
    expect(t.parallelSequences).toMatchObject({ value: 3, source: "override" });
    expect(t.contextSize).toMatchObject({ value: 1024, source: "override" });
    expect(t.batchSize).toMatchObject({ value: 128, source: "override" });
    expect(t.gpuLayers).toMatchObject({ value: 7, source: "override" });
    expect(t.embeddingThreads).toMatchObject({ value: 1, source: "override" });
    expect(t.modelRamBudgetMb).toMatchObject({ value: 900, source: "override" });
    expect(t.sqliteCacheMb).toMatchObject({ value: 16, source: "override" });
    expect(t.reservedCores).toMatchObject({ value: 0, source: "override" });
  });

  it("an override beyond the CPUs is honoured but flagged", () => {
    const t = tune(get("container-2cpu"), { promptThreads: 8 });
    expect(t.promptThreads.value).toBe(8);
    expect(t.promptThreads.reason).toMatch(/oversubscription/);
  });

  it("reservedCores override changes the heuristic thread counts", () => {
    const t = tune(get("rpi4-2gb"), { reservedCores: 0 });
    expect(t.promptThreads.value).toBe(4);
  });

  it("tuneForConfig maps tuning.* settings to overrides", () => {
    const { config } = resolveConfig({ env: {}, flags: { "tuning.promptThreads": "1", "tuning.contextSize": "2048" } });
    const t = tuneForConfig(get("rpi5-8gb"), config);
    expect(t.promptThreads).toMatchObject({ value: 1, source: "override" });
    expect(t.contextSize).toMatchObject({ value: 2048, source: "override" });
    expect(t.batchSize.source).toBe("heuristic");
  });
});

describe("tune: memory, model and the rest", () => {
  it("the KV cache (context × sequences) fits the model budget beside the model", () => {
    const big: ModelShape = { fileBytes: 2_000_000_000, layers: 28, kvWidth: 1024, trainContext: 131072 };
    for (const n of names) {
      for (const model of [null, big]) {
        const t = tune(get(n), {}, null, model);
        const m = model ?? ASSUMED_MODEL;
        const kv = t.contextSize.value * t.parallelSequences.value * kvBytesPerToken(m);
        const room = t.modelRamBudgetMb.value * 2 ** 20 - m.fileBytes;
        if (room > 256 * 2 ** 20) expect(kv, n).toBeLessThanOrEqual(room);
        else expect(t.contextSize.reason, n).toMatch(/swapping/);
        expect(t.batchSize.value).toBeLessThanOrEqual(t.contextSize.value);
      }
    }
  });

  it("recommends a model size and quantization that match the board", () => {
    const pi2 = tune(get("rpi4-2gb")).recommendedModel.value;
    expect(pi2.quantization).toBe("Q4_0");
    expect(pi2.maxParamsB).toBeGreaterThanOrEqual(1);
    expect(pi2.maxParamsB).toBeLessThanOrEqual(1.5);
    expect(tune(get("rpi4-8gb")).recommendedModel.value).toEqual({ maxParamsB: 3, quantization: "Q4_K_M" });
    expect(tune(get("rpi-zero-2w")).recommendedModel.value.maxParamsB).toBeLessThanOrEqual(0.25);
    expect(tune(get("container-2cpu")).modelRamBudgetMb.value).toBeLessThan(4096);
  });

  it("GPU layers only where the GPU is usable", () => {
    expect(tune(get("x86-ryzen7-5800x-smt")).gpuLayers.value).toBeGreaterThan(0);
    expect(tune(get("x86-ryzen7-5800x-smt"), {}, null, { ...ASSUMED_MODEL, layers: 32 }).gpuLayers.value).toBe(33);
    for (const n of names.filter((x) => x !== "x86-ryzen7-5800x-smt")) expect(tune(get(n)).gpuLayers.value, n).toBe(0);
    expect(tune(get("jetson-orin-nano")).gpuLayers.reason).toMatch(/CPU-only/);
  });

  it("every choice has a one-line reason", () => {
    for (const n of names) {
      for (const [k, c] of Object.entries(tune(get(n)))) {
        expect(c.reason.length, `${n} ${k}`).toBeGreaterThan(10);
        expect(c.reason, `${n} ${k}`).not.toContain("\n");
        expect(["heuristic", "calibration", "override"]).toContain(c.source);
      }
    }
  });

  it("is pure: same input, same output", () => {
    const f = get("rk3588-rock5b");
    expect(tune(f)).toEqual(tune(structuredClone(f)));
  });
});
