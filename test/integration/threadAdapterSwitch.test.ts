import { afterEach, describe, expect, it } from "vitest";
import { LlamaEngine } from "../../services/inference/LlamaEngine.js";
import type { RunOptions } from "../../services/inference/InferenceEngine.js";
import { testLlamaModel } from "../models/testModelCache.js";

/*
 * inference.threadAdapter (issue 19): on, generation steps move between the
 * generation and prompt thread counts by the engine's own timings (the
 * adapter measures the low count, then probes the high one); off, every
 * generation step runs at tune()'s generation count. The bench compares both.
 */
describe("the thread adapter switch (real llama.cpp)", () => {
  let engine: LlamaEngine | undefined;
  afterEach(async () => {
    await engine?.dispose();
    engine = undefined;
  });
  const settings = (threadAdapter: boolean) =>
    ({ threads: 2, promptThreads: 2, generationThreads: 1, sequences: 1, contextSize: 512, batchSize: 128, gpuLayers: 0, threadAdapter }) as never;
  const run: RunOptions = { sampling: { maxTokens: 40, temperature: 0 } } as RunOptions;
  const prompt = "the happy dog ran to the park and saw a red ball near the big tree";

  it("off: every generation step runs at the generation count", async () => {
    engine = await LlamaEngine.load("m", testLlamaModel(), settings(false));
    const res = await engine.complete(prompt, run, 40);
    expect(res.completionTokens).toBe(40);
    const stats = engine.threadStats;
    expect(stats?.promptDecodes).toBeGreaterThanOrEqual(1);
    expect(Object.keys(stats?.generationByThreads ?? {})).toEqual(["1"]);
    expect(stats?.generationByThreads[1]).toBeGreaterThanOrEqual(39);
  });

  it("on (the default): after a window at the generation count it probes the prompt count", async () => {
    engine = await LlamaEngine.load("m", testLlamaModel(), settings(true));
    await engine.complete(prompt, run, 40);
    const byThreads = engine.threadStats?.generationByThreads ?? {};
    expect(byThreads[1]).toBeGreaterThanOrEqual(8);
    expect(byThreads[2]).toBeGreaterThanOrEqual(1);
  });
});
