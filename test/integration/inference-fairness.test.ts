import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";
import { summarizerFrom } from "../../services/memory/summarizeJob.js";

/**
 * Issue 19: with one sequence and more requests than slots, users take turns
 * (round-robin by owner) and background work waits behind them, on the real
 * engine with the generated tiny model. Only orders are asserted, never times.
 */
describe("fair generation queue (tiny model, one sequence)", () => {
  let t: InferenceTestApp;
  beforeAll(async () => {
    t = await startInferenceApp({ "tuning.parallelSequences": 1 });
    await t.app.inference.load("tiny");
  });
  afterAll(async () => t?.close());

  const ask = (order: string[], name: string, owner: string, extra: { background?: boolean } = {}) => {
    let started = false;
    return t.app.inference
      .generate({
        model: "tiny", prompt: `story ${name}:`, owner, ...extra,
        sampling: { maxTokens: 12, temperature: 0 },
        onText: () => {
          if (!started) order.push(name);
          started = true;
        },
      })
      .then((r) => {
        if (!started) order.push(name); // an answer that produced no text still counts as served
        return r;
      });
  };

  it("a second user's request runs before the first user's queued ones", async () => {
    const order: string[] = [];
    // Queued synchronously: a1 takes the only slot, the rest wait.
    const all = [ask(order, "a1", "alice"), ask(order, "a2", "alice"), ask(order, "a3", "alice"), ask(order, "b1", "bob"), ask(order, "b2", "bob")];
    await Promise.all(all);
    // FIFO would give a1 a2 a3 b1 b2; the fair queue alternates.
    expect(order).toEqual(["a1", "b1", "a2", "b2", "a3"]);
  });

  it("a background request waits for interactive ones that arrive after it; a summary waits until no user waits", async () => {
    const order: string[] = [];
    const a1 = ask(order, "a1", "alice");
    const bg = ask(order, "job", "scheduler", { background: true });
    const b1 = ask(order, "b1", "bob");
    expect(t.app.inference.busy()).toBe(true);
    let summarized = false;
    const summary = summarizerFrom(t.app.inference, { maxTokens: 4 })
      .summarize("user: hello\nassistant: hi", new AbortController().signal)
      .then(() => {
        summarized = true;
        order.push("summary");
      });
    await Promise.all([a1, b1]);
    expect(order.slice(0, 2)).toEqual(["a1", "b1"]);
    await Promise.all([bg, summary]);
    expect(summarized).toBe(true);
    expect(order).toEqual(["a1", "b1", "job", "summary"]);
    expect(t.app.inference.busy()).toBe(false);
  });
});
