import { describe, expect, it } from "vitest";
import { RequestQueue } from "../../services/inference/RequestQueue.js";
import { checkJsonSchema } from "../../services/inference/checkJsonSchema.js";
import { checkSampling } from "../../services/inference/checkSampling.js";
import { parseChatRequest } from "../../services/inference/routes/parseOpenAi.js";
import { parseChatCompletion } from "../../services/chat/parseChatCompletion.js";
import type { SovereignError } from "../../core/errors/SovereignError.js";

const code = (f: () => unknown) => {
  try { f(); } catch (e) { return (e as SovereignError).code; }
  return null;
};

describe("RequestQueue", () => {
  it("grants slots, queues in order, refuses beyond the queue with QUEUE_FULL and a retry time", async () => {
    const q = new RequestQueue(1, 1, 10_000);
    const r1 = await q.acquire();
    const order: number[] = [];
    const p2 = q.acquire().then((r) => { order.push(2); return r; });
    await expect(q.acquire()).rejects.toMatchObject({ code: "QUEUE_FULL", details: { retryAfterSeconds: expect.any(Number) } });
    expect(q.stats()).toMatchObject({ active: 1, waiting: 1, rejected: 1 });
    r1();
    const r2 = await p2;
    expect(order).toEqual([2]);
    r2();
    r2(); // releasing twice is harmless
    expect(q.stats()).toMatchObject({ active: 0, waiting: 0 });
  });

  it("an aborted wait leaves the queue; a long wait ends in QUEUE_TIMEOUT", async () => {
    const q = new RequestQueue(1, 5, 50);
    const r1 = await q.acquire();
    const ac = new AbortController();
    const p = q.acquire(ac.signal);
    ac.abort(new Error("gone"));
    await expect(p).rejects.toThrow("gone");
    expect(q.stats().waiting).toBe(0);
    await expect(q.acquire()).rejects.toMatchObject({ code: "QUEUE_TIMEOUT" });
    r1();
  });
});

describe("request checks", () => {
  it("sampling ranges", () => {
    expect(code(() => checkSampling({ temperature: 0, topP: 1, maxTokens: 1, seed: 0, stop: ["x"] }))).toBeNull();
    expect(code(() => checkSampling({ temperature: 2.1 }))).toBe("INVALID_SAMPLING");
    expect(code(() => checkSampling({ topP: 0 }))).toBe("INVALID_SAMPLING");
    expect(code(() => checkSampling({ maxTokens: 0 }))).toBe("INVALID_SAMPLING");
    expect(code(() => checkSampling({ stop: ["a", "b", "c", "d", "e"] }))).toBe("INVALID_SAMPLING");
  });

  it("JSON schemas the grammar compiler cannot honour", () => {
    expect(code(() => checkJsonSchema({ type: "object", properties: { a: { type: "array", items: { type: "integer" } }, b: { $ref: "#/$defs/x" } }, $defs: { x: { enum: [1, 2] } } }))).toBeNull();
    for (const bad of [{ type: "nonsense" }, { $ref: "#/$defs/missing" }, { pattern: "a" }, { oneOf: 5 }, { properties: [] }, "x", { required: [1] }])
      expect(code(() => checkJsonSchema(bad)), JSON.stringify(bad)).toBe("INVALID_JSON_SCHEMA");
  });

  it("parses OpenAI chat bodies: text parts, developer role, stop string, json_schema", () => {
    const p = parseChatRequest({
      model: "m", messages: [{ role: "developer", content: "sys" }, { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }],
      stop: "END", max_completion_tokens: 9, response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" } } },
      stream: true, stream_options: { include_usage: true }, conversation_id: "c1", memory: true,
    });
    expect(p.messages).toEqual([{ role: "system", content: "sys" }, { role: "user", content: "ab" }]);
    expect(p.sampling).toEqual({ stop: ["END"], maxTokens: 9, jsonSchema: { type: "object" } });
    expect(p).toMatchObject({ stream: true, includeUsage: true, conversationId: "c1" });
    expect(p).not.toHaveProperty("memory");
    // The chat service's parser adds its extension field.
    expect(parseChatCompletion({ messages: [{ role: "user", content: "a" }], memory: true }).memory).toBe(true);
    expect(parseChatCompletion({ messages: [{ role: "user", content: "a" }], memory: { top_k: 3 } }).memory).toEqual({ topK: 3 });
    expect(parseChatCompletion({ messages: [{ role: "user", content: "a" }] }).memory).toBe(false);
    expect(code(() => parseChatCompletion({ messages: [{ role: "user", content: "a" }], memory: { top_k: 0 } }))).toBe("BAD_REQUEST");
    expect(code(() => parseChatCompletion({ messages: [{ role: "user", content: "a" }], memory: { other: 1 } }))).toBe("BAD_REQUEST");
    expect(code(() => parseChatRequest({ messages: [] }))).toBe("BAD_REQUEST");
    expect(code(() => parseChatRequest({ messages: [{ role: "user", content: [{ type: "image_url" }] }] }))).toBe("BAD_REQUEST");
  });
});
