import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";

const TTFT = "sovereign_inference_time_to_first_token_seconds_count";
const RATE = "sovereign_inference_generation_rate_tokens_per_second_count";

/** A histogram's count for generations served here, 0 before the first one. */
function countOf(text: string, name: string): number {
  const m = new RegExp(`^${name}\\{served_by="local"\\} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

// The time-to-first-token and tokens/s histograms are fed where every generation passes (inference's
// onGenerated), so each route moves them: a scrape before and after each generation compares the counts.
describe("generation metrics move on every route (generated tiny llama)", () => {
  let t: InferenceTestApp;
  const scrape = async () => (await t.app.inject({ method: "GET", url: "/metrics", headers: { host: "localhost" } })).body;

  beforeAll(async () => {
    t = await startInferenceApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Runs one generation; `tokens` is how many it generated, since tokens/s needs at least two. */
  async function expectMoves(run: () => Promise<number>): Promise<void> {
    const before = await scrape();
    const tokens = await run();
    const after = await scrape();
    expect(tokens).toBeGreaterThan(0);
    expect(countOf(after, TTFT)).toBe(countOf(before, TTFT) + 1);
    expect(countOf(after, RATE)).toBe(countOf(before, RATE) + (tokens > 1 ? 1 : 0));
  }

  it("counts a streamed chat completion", async () => {
    await expectMoves(async () => {
      const stream = await t.client.chat.completions.create({
        model: "tiny", messages: [{ role: "user", content: "Tell me" }], max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true },
      });
      let tokens = 0;
      for await (const c of stream) if (c.usage) tokens = c.usage.completion_tokens;
      return tokens;
    });
  });

  it("counts a non-streamed completion", async () => {
    await expectMoves(async () => {
      const r = await t.client.completions.create({ model: "tiny", prompt: "Once upon a time", max_tokens: 8, temperature: 0 });
      return r.usage?.completion_tokens ?? 0;
    });
  });

  it("counts an Ollama chat", async () => {
    await expectMoves(async () => {
      const res = await t.call("/ollama/api/chat", {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "Once upon a time" }], stream: false, options: { temperature: 0, num_predict: 8 } }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { eval_count: number }).eval_count;
    });
  });

  it("labels them as served here, and keeps promtool's naming (a _count, _sum and +Inf bucket per label set)", async () => {
    const text = await scrape();
    expect(countOf(text, TTFT)).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/sovereign_inference_time_to_first_token_seconds_bucket\{le="\+Inf",served_by="local"\} \d+/);
    expect(text).toMatch(/sovereign_inference_generation_rate_tokens_per_second_sum\{served_by="local"\} [0-9.e+]+/);
  });
});
