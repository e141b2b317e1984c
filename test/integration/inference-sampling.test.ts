import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ollama } from "ollama";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";
import { listenExtra, type ExtraListener } from "../../appliance/extraListener.js";

// Issue 17: every sampling parameter is honoured or refused by name; json_object stops where the
// object closes; stop strings match whatever they contain.
describe("sampling parameters, JSON output and stop strings over the tiny llama", () => {
  let t: InferenceTestApp;
  beforeAll(async () => {
    t = await startInferenceApp();
  });
  afterAll(async () => t?.close());

  async function status(path: string, body: object): Promise<{ status: number; body: { error?: { param?: string; message?: string } } }> {
    const r = await t.call(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "tiny", max_tokens: 2, ...body }) });
    return { status: r.status, body: (await r.json()) as { error?: { param?: string; message?: string } } };
  }
  const chat = (extra: object) => status("/v1/chat/completions", { messages: [{ role: "user", content: "hi" }], ...extra });
  const complete = (extra: object) => status("/v1/completions", { prompt: "hi", ...extra });
  const paramOf = (r: { body: { error?: { param?: string; message?: string } } }) => `${r.body.error?.param ?? ""} ${r.body.error?.message ?? ""}`;

  it("top_k 1 and min_p 1 make sampling greedy, whatever the seed", async () => {
    const ask = (extra: object) => t.client.completions.create({ model: "tiny", prompt: "the cat sat on", max_tokens: 10, ...extra } as never);
    const greedy = (await ask({ temperature: 0 })).choices[0]?.text;
    const hot = await Promise.all([1, 2, 3].map(async (seed) => (await ask({ temperature: 2, seed })).choices[0]?.text));
    // Without the cut, temperature 2 wanders off the greedy path: the test could fail.
    expect(hot.some((x) => x !== greedy)).toBe(true);
    for (const seed of [1, 2, 3]) {
      expect((await ask({ temperature: 2, seed, top_k: 1 })).choices[0]?.text).toBe(greedy);
      expect((await ask({ temperature: 2, seed, min_p: 1 })).choices[0]?.text).toBe(greedy);
    }
  });

  it("the penalties change a greedy answer", async () => {
    // The random model's greedy answer barely repeats, so penalties below zero (which reward repeats) are what shows them.
    const ask = async (extra: object) => (await t.client.completions.create({ model: "tiny", prompt: "the dog", max_tokens: 24, temperature: 0, ...extra } as never)).choices[0]?.text;
    const base = await ask({});
    for (const extra of [{ presence_penalty: -2 }, { frequency_penalty: -2 }, { repeat_penalty: 0.2 }]) expect(await ask(extra), JSON.stringify(extra)).not.toBe(base);
    const askChat = async (extra: object) => (await t.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "the dog" }], max_tokens: 24, temperature: 0, ...extra } as never)).choices[0]?.message.content;
    expect(await askChat({ repeat_penalty: 0.2 })).not.toBe(await askChat({}));
  });

  it("logit_bias forces or bans a token by id, and refuses an id beyond the vocabulary", async () => {
    const id = (await tokenIds("x")).at(-1);
    expect(id).toBeDefined();
    const forced = await t.client.completions.create({ model: "tiny", prompt: "the cat", max_tokens: 6, temperature: 0, logit_bias: { [String(id)]: 100 } });
    expect(forced.choices[0]?.text.replace(/\s/g, "")).toBe("xxxxxx");
    const banned = await t.client.completions.create({ model: "tiny", prompt: "x x x x x x", max_tokens: 8, temperature: 0, logit_bias: { [String(id)]: -100 } });
    expect(banned.choices[0]?.text).not.toMatch(/(^| )x( |$)/);
    const r = await complete({ logit_bias: { "99999999": 5 } });
    expect(r.status).toBe(400);
    expect(paramOf(r)).toContain("logit_bias");
    expect((await complete({ logit_bias: { "1": 500 } })).status).toBe(400);
  });

  /** Token ids of a text, from the model's own tokenizer (a test helper: the API takes ids, as OpenAI's does). */
  async function tokenIds(text: string): Promise<number[]> {
    const { getLlama } = await import("node-llama-cpp");
    const llama = await getLlama({ gpu: false, build: "never", skipDownload: true });
    const entry = t.app.inference.resolveModel("llm", "tiny");
    const model = await llama.loadModel({ modelPath: t.app.inference.registry.pathOf(entry), vocabOnly: true });
    try {
      return model.tokenize(text).map(Number);
    } finally {
      await model.dispose();
    }
  }

  it("refuses, by name, every known parameter it does not implement", async () => {
    const cases: [typeof chat, object, string][] = [
      [chat, { logprobs: true }, "logprobs"],
      [chat, { top_logprobs: 2 }, "top_logprobs"],
      [chat, { n: 2 }, "n"],
      [chat, { tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }] }, "tools"],
      [chat, { tool_choice: "required" }, "tool_choice"],
      [chat, { reasoning_effort: "high" }, "reasoning_effort"],
      [complete, { logprobs: 2 }, "logprobs"],
      [complete, { echo: true }, "echo"],
      [complete, { suffix: "end" }, "suffix"],
      [complete, { best_of: 3 }, "best_of"],
      [chat, { top_k: -1 }, "top_k"],
      [chat, { min_p: 2 }, "min_p"],
      [chat, { frequency_penalty: 3 }, "frequency_penalty"],
      [chat, { presence_penalty: -3 }, "presence_penalty"],
      [chat, { repeat_penalty: -1 }, "repeat_penalty"],
      [chat, { logit_bias: { abc: 1 } }, "logit_bias"],
    ];
    for (const [send, body, param] of cases) {
      const r = await send(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(paramOf(r), JSON.stringify(body)).toContain(param);
    }
    // Accepted as no-ops: they ask for nothing this node would leave out.
    expect((await chat({ logprobs: false, n: 1, user: "someone" })).status).toBe(200);
    expect((await complete({ echo: false, best_of: 1, suffix: "" })).status).toBe(200);
  });

  it("refuses json_schema keywords the grammar cannot enforce, by name", async () => {
    for (const [schema, keyword] of [
      [{ type: "object", properties: { n: { type: "number", minimum: 0, maximum: 10 } } }, "minimum"],
      [{ type: "object", properties: { n: { type: "number", maximum: 10 } } }, "maximum"],
      [{ type: "object", properties: { s: { type: "string", pattern: "^a" } } }, "pattern"],
      [{ type: "object", properties: { s: { type: "string", format: "email" } } }, "format"],
      [{ allOf: [{ type: "object" }] }, "allOf"],
    ] as const) {
      const r = await chat({ response_format: { type: "json_schema", json_schema: { name: "x", schema } } });
      expect(r.status, keyword).toBe(400);
      expect(paramOf(r), keyword).toContain(keyword);
    }
  });

  it("anyOf is enforced (as oneOf), not read as any value", async () => {
    const schema = { type: "object", properties: { v: { anyOf: [{ type: "boolean" }, { type: "null" }] } }, required: ["v"], additionalProperties: false };
    const r = await t.client.chat.completions.create({
      model: "tiny", messages: [{ role: "user", content: "go" }], max_tokens: 40, temperature: 1, seed: 3,
      response_format: { type: "json_schema", json_schema: { name: "x", schema } },
    });
    expect(r.choices[0]?.finish_reason).toBe("stop");
    const v = (JSON.parse(r.choices[0]?.message.content ?? "") as { v: unknown }).v;
    expect(v === null || typeof v === "boolean").toBe(true);
  });

  it("json_object gives one complete object and stops where it closes", async () => {
    let closed = 0;
    for (const seed of [1, 2, 3, 4]) {
      const r = await t.client.chat.completions.create({
        model: "tiny", messages: [{ role: "user", content: "Reply in JSON" }], max_tokens: 200, temperature: 0.7, seed, ...({ top_k: 8 } as object),
        response_format: { type: "json_object" },
      });
      const content = r.choices[0]?.message.content ?? "";
      expect(content.trimStart().startsWith("{")).toBe(true);
      if (r.choices[0]?.finish_reason !== "stop") continue;
      closed++;
      const parsed = JSON.parse(content) as unknown;
      expect(typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)).toBe(true);
      expect(content.endsWith("}")).toBe(true);
    }
    expect(closed).toBeGreaterThan(0);
  });

  it("stop strings that contain whitespace end a completion, streamed or not", async () => {
    const full = (await t.client.completions.create({ model: "tiny", prompt: "the cat", max_tokens: 16, temperature: 0 })).choices[0]?.text ?? "";
    const at = full.indexOf(" ", 1);
    expect(at, `greedy output without an inner space: ${JSON.stringify(full)}`).toBeGreaterThan(0);
    const stop = full.slice(at - 1, at + 2);
    expect(stop).toMatch(/\s/);
    const cut = await t.client.completions.create({ model: "tiny", prompt: "the cat", max_tokens: 16, temperature: 0, stop: [stop] });
    expect(cut.choices[0]?.finish_reason).toBe("stop");
    expect(cut.choices[0]?.text).toBe(full.slice(0, full.indexOf(stop)));
    const stream = await t.client.completions.create({ model: "tiny", prompt: "the cat", max_tokens: 16, temperature: 0, stop: [stop], stream: true });
    let streamed = "";
    let reason: string | null = null;
    for await (const c of stream) {
      streamed += c.choices[0]?.text ?? "";
      reason = c.choices[0]?.finish_reason ?? reason;
    }
    expect(streamed).toBe(cut.choices[0]?.text);
    expect(reason).toBe("stop");
    // A newline in a stop string, on chat too.
    const chatFull = (await t.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "the cat" }], max_tokens: 16, temperature: 0 })).choices[0]?.message.content ?? "";
    const sp = chatFull.indexOf(" ", 1);
    if (sp > 0) {
      const chatStop = chatFull.slice(sp - 1, sp + 2);
      const c = await t.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "the cat" }], max_tokens: 16, temperature: 0, stop: chatStop });
      expect(c.choices[0]?.message.content).toBe(chatFull.slice(0, chatFull.indexOf(chatStop)));
    }
  });

  describe("through the official ollama client", () => {
    let listener: ExtraListener;
    let ollama: Ollama;
    beforeAll(async () => {
      listener = await listenExtra(t.app, { host: "127.0.0.1", port: 0, prefix: "/ollama" });
      ollama = new Ollama({ host: listener.url, headers: { Authorization: `Bearer ${t.key}` } });
    });
    afterAll(async () => listener?.close());

    it("options.top_k 1 makes a hot generation greedy, and options.repeat_penalty changes it", async () => {
      const gen = async (options: object) => (await ollama.generate({ model: "tiny", prompt: "the cat sat on", stream: false, raw: true, options: { num_predict: 10, ...options } })).response;
      const greedy = await gen({ temperature: 0 });
      expect(await gen({ temperature: 2, seed: 5, top_k: 1 })).toBe(greedy);
      expect(await gen({ temperature: 2, seed: 6, top_k: 1 })).toBe(greedy);
      expect(await gen({ temperature: 0, repeat_penalty: 0.2, repeat_last_n: 64 })).not.toBe(greedy);
    });
  });
});
