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

  it("scheduled jobs yield: a scheduled run starts, and a job's next unit of work continues, only after the generation in flight", async () => {
    const order: string[] = [];
    t.app.scheduler.register({
      name: "yield-probe", schedule: "0 0 1 1 *", timeoutMs: 60_000,
      run: async (ctx) => {
        order.push(`${ctx.trigger}:unit1`);
        await ctx.whenIdle();
        order.push(`${ctx.trigger}:unit2`);
      },
    });
    // The engine reports each finished generation before it gives its slot back.
    const off = t.app.inference.onGenerated(() => order.push("generated"));
    // A person's manual run starts at once, but its second unit waits for the generation.
    const gen1 = ask([], "a1", "alice");
    const manual = t.app.scheduler.runNow("yield-probe").done;
    await Promise.all([gen1, manual]);
    expect(order).toEqual(["manual:unit1", "generated", "manual:unit2"]);
    // A scheduled run does not start while a user waits.
    order.length = 0;
    const gen2 = ask([], "a2", "alice");
    const scheduled = t.app.scheduler.runScheduled("yield-probe");
    await Promise.all([gen2, scheduled]);
    expect(order).toEqual(["generated", "schedule:unit1", "schedule:unit2"]);
    expect((await scheduled)?.outcome).toBe("ok");
    off();
  });
});
