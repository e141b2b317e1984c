import { afterAll, describe, expect, it } from "vitest";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";

/**
 * inference.speculative=on (issue 19): prompt-lookup speculative decoding only
 * drafts tokens that llama.cpp then verifies, so a greedy answer is the same
 * text with it as without it, through the runner.
 */
describe("prompt-lookup speculative decoding", () => {
  const apps: InferenceTestApp[] = [];
  afterAll(async () => {
    for (const a of apps) await a.close();
  });

  const answer = async (speculative: "on" | "off") => {
    const t = await startInferenceApp({ "inference.speculative": speculative });
    apps.push(t);
    const source = "the red ball rolled into the pond and the duck pushed the red ball back to the girl";
    return t.app.inference.generate({ model: "tiny", prompt: `${source}\nsummary: the red ball`, sampling: { maxTokens: 24, temperature: 0 } });
  };

  it("gives the same greedy text with it on as off", async () => {
    const off = await answer("off");
    const on = await answer("on");
    expect(on.completionTokens).toBeGreaterThan(0);
    expect(on.text).toBe(off.text);
    expect(on.completionTokens).toBe(off.completionTokens);
  });
});
