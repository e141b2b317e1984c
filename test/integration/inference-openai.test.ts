import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";

describe("OpenAI API over the generated tiny llama", () => {
  let t: InferenceTestApp;
  beforeAll(async () => {
    t = await startInferenceApp();
  });
  afterAll(async () => t?.close());

  it("lists installed models", async () => {
    const list = await t.client.models.list();
    expect(list.data.map((m) => m.id)).toContain("tiny");
  });

  it("answers a chat completion with usage", async () => {
    const r = await t.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Hello there" }], max_tokens: 8, temperature: 0 });
    expect(r.object).toBe("chat.completion");
    expect(r.choices[0]?.message.role).toBe("assistant");
    expect(r.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(r.choices[0]?.finish_reason).toBe("length");
    expect(r.usage?.completion_tokens).toBe(8);
    expect(r.usage?.prompt_tokens).toBeGreaterThan(0);
  });

  it("is deterministic with temperature 0 and with a fixed seed", async () => {
    const ask = (extra: object) => t.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "the dog" }], max_tokens: 6, ...extra });
    const [a, b] = [await ask({ temperature: 0 }), await ask({ temperature: 0 })];
    expect(a.choices[0]?.message.content).toBe(b.choices[0]?.message.content);
    const [c, d] = [await ask({ temperature: 1, seed: 42, top_p: 0.9 }), await ask({ temperature: 1, seed: 42, top_p: 0.9 })];
    expect(c.choices[0]?.message.content).toBe(d.choices[0]?.message.content);
  });

  it("streams chat chunks in OpenAI's format, ending with [DONE]", async () => {
    const stream = await t.client.chat.completions.create({
      model: "tiny", messages: [{ role: "user", content: "Tell me" }], max_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0]?.object).toBe("chat.completion.chunk");
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    const full = await t.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Tell me" }], max_tokens: 10, temperature: 0 });
    expect(text).toBe(full.choices[0]?.message.content);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(finish?.choices[0]?.finish_reason).toBe("length");
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(10);
    // The raw stream ends with data: [DONE].
    const raw = await t.call("/v1/chat/completions", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "Hi" }], max_tokens: 3, stream: true }),
    });
    expect(raw.headers.get("content-type")).toContain("text/event-stream");
    const body = await raw.text();
    expect(body.trimEnd().endsWith("data: [DONE]")).toBe(true);
    for (const line of body.split("\n\n").filter(Boolean)) expect(line.startsWith("data: ")).toBe(true);
  });

  it("serves /v1/completions, streaming and not", async () => {
    const r = await t.client.completions.create({ model: "tiny", prompt: "Once upon a time", max_tokens: 5, temperature: 0 });
    expect(r.object).toBe("text_completion");
    expect(r.usage?.completion_tokens).toBe(5);
    const stream = await t.client.completions.create({ model: "tiny", prompt: "Once upon a time", max_tokens: 5, temperature: 0, stream: true });
    let text = "";
    for await (const c of stream) text += c.choices[0]?.text ?? "";
    expect(text).toBe(r.choices[0]?.text);
  });

  it("stops at a stop string", async () => {
    // The stop string comes from a first greedy run's own output, so the cut always happens (and can fail).
    const full = await t.client.completions.create({ model: "tiny", prompt: "the cat", max_tokens: 12, temperature: 0 });
    const text = full.choices[0]?.text ?? "";
    const word = [...text.matchAll(/\S+/g)].find((m) => m.index > 0);
    expect(word, `greedy output too short to pick a stop string from: ${JSON.stringify(text)}`).toBeDefined();
    const stop = (word?.[0] ?? "").slice(0, 2);
    const cut = await t.client.completions.create({ model: "tiny", prompt: "the cat", max_tokens: 12, temperature: 0, stop: [stop] });
    const cutText = cut.choices[0]?.text ?? "";
    expect(cut.choices[0]?.finish_reason).toBe("stop");
    expect(cutText).not.toContain(stop);
    expect(cutText.length).toBeLessThan(text.length);
    expect(text.startsWith(cutText)).toBe(true);
  });

  it("constrains output to a JSON schema", async () => {
    const schema = { type: "object", properties: { name: { type: "string" }, age: { type: "integer" } }, required: ["name", "age"], additionalProperties: false };
    const r = await t.client.chat.completions.create({
      model: "tiny", messages: [{ role: "user", content: "Give me a person" }], max_tokens: 120, temperature: 0,
      response_format: { type: "json_schema", json_schema: { name: "person", schema } },
    });
    const content = r.choices[0]?.message.content ?? "";
    if (r.choices[0]?.finish_reason === "stop") {
      const parsed = JSON.parse(content) as Record<string, unknown>;
      expect(Object.keys(parsed).sort()).toEqual(["age", "name"]);
      expect(Number.isInteger(parsed.age)).toBe(true);
    } else expect(content.startsWith("{")).toBe(true);
  });

  it("reuses the KV cache of the shared prefix on a follow-up turn", async () => {
    // The engine level: a slot key routes both turns to one KV slot (the chat service keys stored
    // conversations this way; that flow is in chatMemory.test.ts).
    const first = [{ role: "system" as const, content: "You are a storyteller." }, { role: "user" as const, content: "Tell me about the happy dog in the park with the red ball." }];
    const r1 = await t.app.inference.generate({ model: "tiny", messages: first, sampling: { maxTokens: 8, temperature: 0 }, slotKey: "conv-1" });
    const second = [...first, { role: "assistant" as const, content: r1.text }, { role: "user" as const, content: "And then?" }];
    const before = t.app.inference.status().totals.promptTokens;
    const res = await t.app.inference.generate({ model: "tiny", messages: second, sampling: { maxTokens: 4, temperature: 0 }, slotKey: "conv-1" });
    expect(t.app.inference.status().totals.promptTokens).toBeGreaterThan(before);
    expect(res.reusedPromptTokens).toBeGreaterThan(20);
    expect(res.reusedPromptTokens).toBeLessThan(res.promptTokens);
  });
});
