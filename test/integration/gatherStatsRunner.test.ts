import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";
import type { InferenceStatus, LoadedEngineStats } from "../../services/inference/types.js";

/*
 * The engine's decode counts (how parallel sequences' prompts and steps were
 * gathered, and at which thread counts they ran) live where llama.cpp runs:
 * in runner mode, the default, a child process. They come back over the
 * runner's `stats` message to GET /api/inference/status (`engine`).
 */
describe("gather stats from a runner (real llama.cpp in a runner process)", () => {
  let t: InferenceTestApp;
  const status = async (): Promise<InferenceStatus & { engine: LoadedEngineStats | null }> => {
    const r = await t.call("/api/inference/status");
    expect(r.status).toBe(200);
    return (await r.json()) as InferenceStatus & { engine: LoadedEngineStats | null };
  };
  beforeAll(async () => {
    // 4 sequences; prompts at 2 threads and generation at 1, so both the gatherer and the per-phase threads count.
    t = await startInferenceApp({ "inference.engineMode": "runner", "tuning.parallelSequences": 4, "tuning.promptThreads": 2, "tuning.generationThreads": 1 });
  });
  afterAll(async () => t?.close());

  it("none before a model is loaded; zero counts right after the load", async () => {
    expect((await status()).engine).toBeNull();
    await t.app.inference.load("tiny");
    const s = await status();
    expect(s.engineMode).toBe("runner");
    expect(s.runners.length).toBe(1);
    expect(s.engine).toMatchObject({ model: "tiny", engineMode: "runner", batching: { promptDecodes: 0, generationDecodes: 0, promptSequences: {}, promptDecodeMs: 0, dispatchHeldMs: 0 }, threads: { promptDecodes: 0, generationDecodes: 0 } });
  });

  it("4 users at once: the runner's counts show every prompt and generation step", async () => {
    const words = "the happy dog ran to the park and saw a red ball near the big tree".split(" ");
    const runs = await Promise.all([0, 1, 2, 3].map(async (i) => {
      const r = await t.call("/v1/completions", {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "tiny", prompt: `user ${i} ${words.join(" ")}`, max_tokens: 8, temperature: 0 }),
      });
      expect(r.status).toBe(200);
      return ((await r.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens;
    }));
    expect(runs).toEqual([8, 8, 8, 8]);
    const engine = (await status()).engine;
    if (!engine?.batching || !engine.threads) throw new Error(`no decode counts from the runner: ${JSON.stringify(engine)}`);
    const { batching, threads } = engine;
    // Each user's prompt went into some prompt decode (one decode of 4 when they arrived within the quiet window).
    const prompts = Object.entries(batching.promptSequences).reduce((n, [sequences, decodes]) => n + Number(sequences) * decodes, 0);
    expect(prompts).toBe(4);
    expect(batching.promptDecodes).toBeGreaterThanOrEqual(1);
    expect(batching.promptDecodes).toBeLessThanOrEqual(4);
    expect(batching.promptDecodeMs).toBeGreaterThan(0);
    // 4 × 7 steps after the prompts' first tokens, at most 4 to a decode.
    const steps = Object.entries(batching.sizes).reduce((n, [tokens, decodes]) => n + Number(tokens) * decodes, 0);
    expect(steps).toBe(28);
    expect(batching.generationDecodes).toBeGreaterThanOrEqual(7);
    // The per-phase thread counts saw the same decodes: prompts at 2 threads' phase, steps at 1 or 2 (the adapter probes).
    expect(threads.promptDecodes).toBe(batching.promptDecodes);
    expect(threads.generationDecodes).toBe(batching.generationDecodes);
    expect(Object.values(threads.generationByThreads).reduce((a, b) => a + b, 0)).toBe(threads.generationDecodes);
    // A copy each time: counts read earlier do not move.
    const again = (await status()).engine;
    expect(again?.batching).toEqual(batching);
  });
});
