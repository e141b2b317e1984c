import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";

/*
 * inference.streamIntervalMs: a runner sends a streamed answer's text to the
 * node at most that often (TextCoalescer). Real llama.cpp in a runner process,
 * the generated tiny model, one app per interval; the text is the same.
 */
describe("streamed text from a runner, gathered by inference.streamIntervalMs", () => {
  let every: InferenceTestApp;
  let gathered: InferenceTestApp;
  beforeAll(async () => {
    every = await startInferenceApp({ "inference.engineMode": "runner", "inference.streamIntervalMs": 0 });
    // Far longer than the whole answer takes: the first piece goes at once, the rest when the run ends.
    gathered = await startInferenceApp({ "inference.engineMode": "runner", "inference.streamIntervalMs": 5000 });
  });
  afterAll(async () => {
    await every?.close();
    await gathered?.close();
  });

  const streamed = async (t: InferenceTestApp): Promise<{ pieces: string[]; tokens: number }> => {
    const stream = await t.client.completions.create({ model: "tiny", prompt: "Once upon a time", max_tokens: 24, temperature: 0, stream: true, stream_options: { include_usage: true } });
    const pieces: string[] = [];
    let tokens = 0;
    for await (const c of stream) {
      const text = c.choices[0]?.text ?? "";
      if (text) pieces.push(text);
      tokens = c.usage?.completion_tokens ?? tokens;
    }
    return { pieces, tokens };
  };

  it("0 sends each piece as it comes; a long interval sends the first at once and the rest together at the end, the same text", async () => {
    const a = await streamed(every);
    const b = await streamed(gathered);
    expect(a.tokens).toBe(24);
    expect(b.tokens).toBe(24);
    // The tiny model's tokens mostly decode to text of their own: many pieces, one per token or close to it.
    expect(a.pieces.length).toBeGreaterThan(12);
    expect(b.pieces.length).toBeLessThanOrEqual(2);
    expect(b.pieces.join("")).toBe(a.pieces.join(""));
    const whole = await gathered.client.completions.create({ model: "tiny", prompt: "Once upon a time", max_tokens: 24, temperature: 0 });
    expect(b.pieces.join("")).toBe(whole.choices[0]?.text);
  });

  it("a stop string still ends the answer where it matches (the runner watches the text before gathering it)", async () => {
    const full = (await streamed(every)).pieces.join("");
    const stop = full.slice(6, 9);
    expect(stop.length).toBe(3);
    const stream = await gathered.client.completions.create({ model: "tiny", prompt: "Once upon a time", max_tokens: 24, temperature: 0, stream: true, stop: [stop] });
    let text = "";
    let finish: string | null | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? "";
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(full.slice(0, full.indexOf(stop)));
    expect(finish).toBe("stop");
  });
});
