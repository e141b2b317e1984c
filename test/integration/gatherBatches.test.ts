import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlamaCompletion, type LlamaContext } from "node-llama-cpp";
import { LlamaEngine, loadLlama } from "../../services/inference/LlamaEngine.js";
import { arrivalQuietMs, gatherBatches, readyToDispatch, setupCapMs, waitCapMs } from "../../services/inference/gatherBatches.js";
import type { RunOptions } from "../../services/inference/InferenceEngine.js";
import { testLlamaModel } from "../models/testModelCache.js";

/*
 * Parallel sequences of one context share their decode steps: with 4 users
 * generating, each decode carries a token of each (node-llama-cpp alone let
 * one sequence miss most batches), and a user who arrives while the others
 * generate gets a first token before they finish.
 */
describe("parallel sequences batch their decode steps (real llama.cpp)", () => {
  let engine: LlamaEngine;
  const words = "the happy dog ran to the park and saw a red ball near the big tree".split(" ");
  const prompt = (salt: string, n = 24) => `${salt} ${Array.from({ length: n }, (_v, i) => words[i % words.length]).join(" ")}`;
  const run = (maxTokens: number, onText?: () => void): RunOptions => ({ sampling: { maxTokens, temperature: 0 }, ...(onText ? { onText } : {}) }) as RunOptions;

  beforeAll(async () => {
    engine = await LlamaEngine.load("m", testLlamaModel(), { threads: 1, promptThreads: 1, generationThreads: 1, sequences: 4, contextSize: 1024, batchSize: 256 } as never);
  });
  afterAll(async () => {
    await engine?.dispose();
  });

  it("4 users at once: every generation decode carries a token of each generating sequence", async () => {
    // A first run leaves tokens in one sequence (the next run there erases them first, under the context's lock).
    await engine.complete(prompt("warm"), run(4), 4);
    const stats = engine.batchStats;
    expect(stats).not.toBeNull();
    if (!stats) return;
    const before = { ...stats, sizes: { ...stats.sizes } };
    const runs = await Promise.all([0, 1, 2, 3].map((i) => engine.complete(prompt(`user ${i}`), run(24), 24)));
    expect(runs.map((r) => r.completionTokens)).toEqual([24, 24, 24, 24]);
    const decodes = stats.generationDecodes - before.generationDecodes;
    const fours = (stats.sizes[4] ?? 0) - (before.sizes[4] ?? 0);
    // 4 × 23 steps after the prompts; batched, about 23 decodes of 4 (without gathering: ~30, mostly of 3).
    expect(decodes).toBeLessThanOrEqual(26);
    expect(fours).toBeGreaterThanOrEqual(20);
    expect(stats.fullDecodes - before.fullDecodes).toBe(decodes);
  });

  it("a user who arrives while 3 others generate gets a first token before they finish", async () => {
    const finished: number[] = [];
    let lateFirstToken = -1;
    let stepping = 0;
    let allStepping: () => void = () => undefined;
    const joined = new Promise<void>((resolve) => { allStepping = resolve; });
    const long = [0, 1, 2].map((i) => {
      let first = true;
      return engine.complete(prompt(`long ${i}`), run(120, () => { if (first && (first = false, ++stepping === 3)) allStepping(); }), 120).then(() => finished.push(i));
    });
    // Join once the three are stepping (their prompts are in).
    await joined;
    const late = engine.complete(prompt("late"), run(4, () => { if (lateFirstToken < 0) lateFirstToken = finished.length; }), 4);
    await Promise.all([...long, late]);
    expect(lateFirstToken).toBe(0);
  });

  it("4 users who start together have their prompts evaluated in one decode, each gets a first token from it", async () => {
    // Every sequence holds an earlier run's tokens, so each new run first erases them under the context's lock,
    // and one had a run end just before (its dispatch loop still waiting for stragglers): the paths where a
    // prompt used to miss the others' decode (measured on the TinyLlama-shaped model: 3 + 1 or 2 + 2 prompts in
    // two decodes, and the last user's first token after both).
    await Promise.all([0, 1, 2, 3].map((i) => engine.complete(prompt(`before ${i}`), run(2), 2)));
    await engine.complete(prompt("just before"), run(3), 3);
    const stats = engine.batchStats;
    if (!stats) throw new Error("no batch stats with 4 sequences");
    const before = { promptDecodes: stats.promptDecodes, four: stats.promptSequences[4] ?? 0, generation: stats.generationDecodes };
    const tokensAtFirst: number[] = [];
    const emitted = [0, 0, 0, 0];
    const runs = await Promise.all([0, 1, 2, 3].map((i) => engine.complete(prompt(`together ${i}`), run(8, () => {
      emitted[i] = (emitted[i] ?? 0) + 1;
      if (emitted[i] === 1) tokensAtFirst.push(stats.generationDecodes - before.generation);
    }), 8)));
    expect(runs.map((r) => r.completionTokens)).toEqual([8, 8, 8, 8]);
    expect(stats.promptDecodes - before.promptDecodes).toBe(1);
    expect((stats.promptSequences[4] ?? 0) - before.four).toBe(1);
    // Each user's first token came from that one prompt decode, before any generation step.
    expect(tokensAtFirst).toEqual([0, 0, 0, 0]);
  });

  it("right after a model load, 4 users arriving a few ms apart share one prompt decode", async () => {
    // No prompt decode has been timed yet, so the quiet window cannot come from one: it used to be 0 and the
    // first user's prompt went alone (then the next ones', each behind the other's decode).
    const fresh = await LlamaEngine.load("fresh", testLlamaModel(), { threads: 1, promptThreads: 1, generationThreads: 1, sequences: 4, contextSize: 1024, batchSize: 256 } as never);
    try {
      const stats = fresh.batchStats;
      if (!stats) throw new Error("no batch stats with 4 sequences");
      expect(stats.promptDecodes).toBe(0);
      // Over HTTP, requests sent together reach the engine 5-25 ms apart; here 3 ms apart, by timers.
      const runs = await Promise.all([0, 1, 2, 3].map((i) => new Promise((r) => setTimeout(r, 3 * i)).then(() => fresh.complete(prompt(`after load ${i}`), run(4), 4))));
      expect(runs.map((r) => r.completionTokens)).toEqual([4, 4, 4, 4]);
      expect(stats.promptDecodes).toBe(1);
      expect(stats.promptSequences).toEqual({ 4: 1 });
      expect(stats.arrivalWaits).toBe(1);
      // Where the first tokens' time went: the prompt decode, and the hold that gathered the arrivals.
      expect(stats.promptDecodeMs).toBeGreaterThan(0);
      expect(stats.dispatchHeldMs).toBeGreaterThan(0);
    } finally {
      await fresh.dispose();
    }
  });

  it("a context without node-llama-cpp's internals is left alone", () => {
    expect(gatherBatches({} as LlamaContext, 4)).toBeNull();
  });

  it("waits for stragglers only up to a quarter of the last decode, at most 5 ms", () => {
    expect(readyToDispatch(3, 4, 0.1, 1)).toBe(false);
    expect(readyToDispatch(4, 4, 0.1, 1)).toBe(true);
    expect(readyToDispatch(3, 4, 1, 1)).toBe(true);
    expect(waitCapMs(60)).toBe(5);
    expect(waitCapMs(2)).toBe(0.5);
    expect(waitCapMs(0)).toBe(0.2);
  });

  /**
   * A context of 4 sequences with a gatherer whose quiet window for arrivals is `arrivalMs`, and `go(i, text, n)`
   * that runs an n-token completion on sequence i the way the engine does (begin, complete, end).
   */
  const withGatherer = async (arrivalMs: number, body: (g: {
    gatherer: NonNullable<ReturnType<typeof gatherBatches>>; go: (i: number, text: string, maxTokens: number) => Promise<void>;
  }) => Promise<void>): Promise<void> => {
    const llama = await loadLlama();
    const model = await llama.loadModel({ modelPath: testLlamaModel() });
    const context = await model.createContext({ contextSize: 2048, sequences: 4, batchSize: 256, threads: 1 });
    try {
      const gatherer = gatherBatches(context, 4, { arrivalMinMs: arrivalMs, arrivalMaxMs: arrivalMs });
      if (!gatherer) throw new Error("the context lacks the gatherer's hooks");
      const sequences = [0, 1, 2, 3].map(() => context.getSequence());
      await body({
        gatherer,
        go: async (i, text, maxTokens) => {
          const sequence = sequences[i] as (typeof sequences)[number];
          gatherer.begin(sequence);
          try {
            await new LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false }).generateCompletion(text, { maxTokens, temperature: 0 });
          } finally {
            gatherer.end(sequence);
          }
        },
      });
    } finally {
      await context.dispose();
      await model.dispose();
    }
  };

  it("users who arrive a few ms apart from idle share one prompt decode", async () => {
    // Over HTTP, 4 requests sent together reach the engine 5-25 ms apart; the gatherer under test gets a quiet
    // window far longer than the gaps here (the engine's is a twentieth of the last prompt decode, at most 30 ms).
    await withGatherer(150, async ({ gatherer, go }) => {
      await go(0, prompt("first prompt: the quiet window follows its decode"), 2);
      const before = { ...gatherer.stats, promptSequences: { ...gatherer.stats.promptSequences } };
      await Promise.all([0, 1, 2, 3].map((i) => new Promise((r) => setTimeout(r, 5 * i)).then(() => go(i, prompt(`arriving ${i}`), 3))));
      expect(gatherer.stats.promptDecodes - before.promptDecodes).toBe(1);
      expect((gatherer.stats.promptSequences[4] ?? 0) - (before.promptSequences[4] ?? 0)).toBe(1);
      expect(gatherer.stats.arrivalWaits - before.arrivalWaits).toBe(1);
    });
  });

  it("stops waiting for arrivals once every sequence has a run: no further user could join that decode", async () => {
    // A quiet window far longer than anything else here: a dispatch that waited it out shows in dispatchHeldMs.
    await withGatherer(400, async ({ gatherer, go }) => {
      const held = async (users: number): Promise<number> => {
        const before = gatherer.stats.dispatchHeldMs;
        await Promise.all(Array.from({ length: users }, (_v, i) => go(i, prompt(`${users} users, ${i}`), 2)));
        return gatherer.stats.dispatchHeldMs - before;
      };
      // 3 users of 4 sequences: a fourth could still come, so the first prompt decode waits the window out.
      expect(await held(3)).toBeGreaterThanOrEqual(350);
      // 4 of 4: it goes as soon as the four prompts are queued.
      expect(await held(4)).toBeLessThan(200);
    });
  });

  it("hands llama.cpp each batch in sequence-id order, so a step of 4 users runs as one graph", async () => {
    // llama.cpp splits a batch into micro-batches of consecutive, increasing sequence ids (a KV cache per
    // sequence): out of order, 4 users' tokens ran as up to 4 graphs and batching gained nothing.
    const llama = await loadLlama();
    const model = await llama.loadModel({ modelPath: testLlamaModel() });
    const context = await model.createContext({ contextSize: 1024, sequences: 4, batchSize: 256, threads: 1 });
    try {
      const gatherer = gatherBatches(context, 4);
      if (!gatherer) throw new Error("the context lacks the gatherer's hooks");
      const native = (context as unknown as { _ctx: { initBatch(n: number): unknown; addToBatch(id: number, ...rest: unknown[]): unknown } })._ctx;
      const batches: number[][] = [];
      const initBatch = native.initBatch.bind(native);
      const addToBatch = native.addToBatch.bind(native);
      Object.defineProperty(native, "initBatch", { configurable: true, writable: true, value: (n: number) => { batches.push([]); return initBatch(n); } });
      Object.defineProperty(native, "addToBatch", { configurable: true, writable: true, value: (id: number, ...rest: unknown[]) => { batches.at(-1)?.push(id); return addToBatch(id, ...rest); } });
      const sequences = [0, 1, 2, 3].map(() => context.getSequence());
      const go = async (i: number, maxTokens: number): Promise<void> => {
        const sequence = sequences[i] as (typeof sequences)[number];
        gatherer.begin(sequence);
        try {
          await new LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false }).generateCompletion(prompt(`order ${i}`, 4 + 3 * i), { maxTokens, temperature: 0 });
        } finally {
          gatherer.end(sequence);
        }
      };
      // Started last to first, 2 ms apart: their prompts share a decode and their steps queue as 3, 2, 1, 0 (as they ran before the sort).
      await Promise.all([3, 2, 1, 0].map((i, k) => new Promise((r) => setTimeout(r, 2 * k)).then(() => go(i, 48 - 8 * k))));
      const multi = batches.filter((b) => b.length > 1);
      expect(multi.length).toBeGreaterThan(5);
      for (const b of multi) expect(b).toEqual([...b].sort((x, y) => x - y));
      expect(multi.some((b) => b.length === 4)).toBe(true);
    } finally {
      await context.dispose();
      await model.dispose();
    }
  });

  it("waits for arrivals a twentieth of the last prompt decode, at most 30 ms; 30 ms before any was timed", () => {
    expect(arrivalQuietMs(null)).toBe(30);
    expect(arrivalQuietMs(null, 0, 150)).toBe(150);
    expect(arrivalQuietMs(0)).toBe(0);
    expect(arrivalQuietMs(200)).toBe(10);
    expect(arrivalQuietMs(2000)).toBe(30);
    expect(arrivalQuietMs(0, 150, 150)).toBe(150);
  });

  it("holds a decode for a run still setting up for twice the last decode, 50 to 200 ms", () => {
    expect(setupCapMs(1)).toBe(50);
    expect(setupCapMs(60)).toBe(120);
    expect(setupCapMs(3000)).toBe(200);
  });
});
