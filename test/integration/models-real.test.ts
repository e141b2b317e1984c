import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireFile } from "../helpers/requireTool.js";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";
import { sharedModelsDir, testEmbedderDir } from "../models/testModelCache.js";
import { OnnxEmbedder } from "../../services/inference/embeddings/OnnxEmbedder.js";

const stories = join(sharedModelsDir, "stories260K.gguf");
const minilm = join(sharedModelsDir, "all-MiniLM-L6-v2-tokenizer", "tokenizer.json");

describe.runIf(requireFile(stories, "the real stories260K model (../shared/models)", existsSync))("real model: stories260K", () => {
  let t: InferenceTestApp;
  beforeAll(async () => {
    t = await startInferenceApp({}, { install: false });
    await t.app.inference.registry.add(stories, { name: "stories260K", sha256: "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d" });
  });
  afterAll(async () => t?.close());

  it("manifest comes from the real header", () => {
    expect(t.app.inference.registry.get("stories260K")).toMatchObject({ architecture: "llama", quantization: "F32", contextLength: 2048, size: 1_185_376 });
  });

  it("greedy completion of \"Once upon a time\" is the known coherent story", async () => {
    const r = await t.client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 30, temperature: 0 });
    expect(r.choices[0]?.text).toMatch(/^, there was a little girl named Lily\. She loved to play outside in the park/);
  });

  it("streams the same text", async () => {
    const s = await t.client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 20, temperature: 0, stream: true });
    let text = "";
    for await (const c of s) text += c.choices[0]?.text ?? "";
    expect(text).toContain("little girl named Lily");
  });
});

describe.runIf(requireFile(minilm, "the real MiniLM tokenizer (../shared/models)", existsSync))("real tokenizer: all-MiniLM-L6-v2", () => {
  it("tokenizes like BERT uncased and embeds with the generated MiniLM-shaped model", async () => {
    const dir = testEmbedderDir({ real: true, hidden: 384 });
    const e = await OnnxEmbedder.load(dir, { threads: 1 });
    const r = await e.embed(["Hello, world!", "Café 東京"]);
    // [CLS] hello , world ! [SEP] = 6, [CLS] cafe 東 京 [SEP] = 5
    expect(r.tokens).toBe(11);
    expect(r.vectors[0]).toHaveLength(384);
    expect(Math.hypot(...(r.vectors[0] as Float32Array))).toBeCloseTo(1, 4);
    await e.dispose();
  });
});
