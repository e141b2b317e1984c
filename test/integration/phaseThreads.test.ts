import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlamaCompletion, type LlamaContext, type LlamaModel } from "node-llama-cpp";
import { loadLlama } from "../../services/inference/LlamaEngine.js";
import { applyPhaseThreads } from "../../services/inference/phaseThreads.js";
import { ThreadAdapter } from "../../services/inference/threadAdapter.js";
import { testLlamaModel } from "../models/testModelCache.js";

/*
 * node-llama-cpp 3.22 takes one thread count for both phases. The switch sets
 * llama.cpp's count before each decode of a real context: prompt batches at
 * one count, generation steps at the other.
 */
describe("per-phase thread counts on a real llama.cpp context", () => {
  let model: LlamaModel;
  let context: LlamaContext;

  beforeAll(async () => {
    const llama = await loadLlama();
    llama.maxThreads = 2;
    model = await llama.loadModel({ modelPath: testLlamaModel(), gpuLayers: 0 });
    context = await model.createContext({ contextSize: 512, sequences: 2, batchSize: 512, threads: 2 });
  });
  afterAll(async () => {
    await context?.dispose();
    await model?.dispose();
  });

  it("prompt batches run at the prompt count, generation steps at the generation count", async () => {
    const stats = applyPhaseThreads(context, { prompt: 2, generation: 1 }, 2);
    expect(stats).not.toBeNull();
    if (!stats) return;
    const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
    const prompt = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ");
    const text = await completion.generateCompletion(prompt, { maxTokens: 6, temperature: 0 });
    expect(typeof text).toBe("string");
    // The prompt (dozens of tokens) is one or more batches; each generated token is a step of its own.
    expect(stats.promptDecodes).toBeGreaterThanOrEqual(1);
    expect(stats.generationDecodes).toBeGreaterThanOrEqual(4);
    expect(stats.lastThreads).toBe(1);
    // Every step after the first follows a generation decode: its time outside llama.cpp is a gap of its own.
    expect(stats.generationGaps).toBe(stats.generationDecodes - 1);
    expect(stats.generationGapMs).toBeGreaterThan(0);
    expect(stats.generationDecodeMs).toBeGreaterThan(0);
    completion.dispose();
  });

  it("with a thread adapter, generation steps run at the counts it picks and feed it their timings", async () => {
    const ctx = await model.createContext({ contextSize: 512, sequences: 1, batchSize: 512, threads: 2 });
    try {
      const adapter = new ThreadAdapter({ low: 1, high: 2, window: 4 });
      const stats = applyPhaseThreads(ctx, { prompt: 2, generation: 1 }, 1, adapter);
      expect(stats).not.toBeNull();
      if (!stats) return;
      const completion = new LlamaCompletion({ contextSequence: ctx.getSequence() });
      await completion.generateCompletion("one two three four five six", { maxTokens: 16, temperature: 0, customStopTriggers: [] });
      // It starts at the safe count, measures a window there, then probes the higher count.
      expect(stats.generationByThreads[1]).toBeGreaterThanOrEqual(4);
      expect(stats.generationByThreads[2]).toBeGreaterThanOrEqual(1);
      expect(adapter.switches).toBeGreaterThanOrEqual(1);
      completion.dispose();
    } finally {
      await ctx.dispose();
    }
  });

  it("a context whose native side lacks the hooks is left alone (the caller runs one count)", () => {
    const fake = { _ctx: { initBatch: () => undefined } } as unknown as LlamaContext;
    expect(applyPhaseThreads(fake, { prompt: 2, generation: 1 }, 1)).toBeNull();
  });
});
