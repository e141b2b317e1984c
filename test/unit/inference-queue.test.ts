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

describe("RequestQueue fairness", () => {
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  /** Queues each name (owner = the name without its trailing digits); records the grant order; returns the pending releases by name. */
  const queueAll = (q: RequestQueue, order: string[], names: string[], opts: { background?: boolean } = {}) =>
    new Map(names.map((n) => [n, q.acquire({ owner: n.replace(/\d+$/, ""), ...opts }).then((r) => { order.push(n); return r; })]));
  /** With one slot: releases whoever was granted last, until `until` is granted or nothing is left. */
  const serveOneByOne = async (pending: Map<string, Promise<() => void>>, order: string[], until?: string) => {
    for (let i = 0; i < pending.size; i++) {
      await tick();
      const last = order[order.length - 1];
      if (last === undefined || last === until) return;
      (await (pending.get(last) as Promise<() => void>))();
    }
  };

  it("serves waiting owners round-robin: a burst from one user does not hold back the others", async () => {
    const q = new RequestQueue(1, 10, 60_000);
    const order: string[] = [];
    const first = await q.acquire({ owner: "a" });
    const pending = queueAll(q, order, ["a2", "a3", "a4", "b1", "c1"]);
    first();
    await serveOneByOne(pending, order);
    expect(order).toEqual(["b1", "c1", "a2", "a3", "a4"]);
    expect(q.stats()).toMatchObject({ active: 0, waiting: 0 });
  });

  it("gives a freed slot to the owner holding the fewest, even when another owner queued first", async () => {
    const q = new RequestQueue(2, 10, 60_000);
    const order: string[] = [];
    const a1 = await q.acquire({ owner: "a" });
    const a2 = await q.acquire({ owner: "a" });
    const pending = queueAll(q, order, ["a3", "b1"]);
    a1();
    const b1 = await (pending.get("b1") as Promise<() => void>);
    expect(order).toEqual(["b1"]);
    a2();
    (await (pending.get("a3") as Promise<() => void>))();
    b1();
    expect(order).toEqual(["b1", "a3"]);
    expect(q.stats()).toMatchObject({ active: 0, waiting: 0 });
  });

  it("the 4th user's wait is bounded by one generation per other user, however many requests they queued", async () => {
    const q = new RequestQueue(1, 100, 60_000);
    const order: string[] = [];
    const hold = await q.acquire({ owner: "u" });
    const names = Array.from({ length: 10 }, (_, i) => ["u", "v", "w"].map((u) => `${u}${i}`)).flat();
    const pending = queueAll(q, order, [...names, "x0"]);
    hold();
    await serveOneByOne(pending, order, "x0");
    // x0 arrived last, behind 30 waiting requests, and is served 3rd: after v and w (never served), then itself before u's second turn.
    expect(order.slice(0, 3)).toEqual(["v0", "w0", "x0"]);
    (await (pending.get("x0") as Promise<() => void>))();
    await serveOneByOne(pending, order);
    expect(order).toHaveLength(31);
    expect(q.stats()).toMatchObject({ active: 0, waiting: 0 });
  });

  it("background requests wait while interactive ones wait; busy() and whenIdle() follow interactive work only", async () => {
    const q = new RequestQueue(1, 10, 60_000);
    const order: string[] = [];
    expect(q.busy()).toBe(false);
    await q.whenIdle(); // resolves at once when nothing runs
    const bgHold = await q.acquire({ owner: "job", background: true });
    expect(q.busy()).toBe(false); // a background job alone is not a user waiting
    const pbg = queueAll(q, order, ["job2"], { background: true }).get("job2") as Promise<() => void>;
    const pu = queueAll(q, order, ["u1"]).get("u1") as Promise<() => void>;
    expect(q.busy()).toBe(true);
    let idle = false;
    const idleP = q.whenIdle().then(() => { idle = true; });
    bgHold();
    const u = await pu;
    expect(order).toEqual(["u1"]);
    await tick();
    expect(idle).toBe(false);
    u();
    const bg = await pbg;
    await idleP;
    expect(idle).toBe(true);
    expect(order).toEqual(["u1", "job2"]);
    bg();
    const ac = new AbortController();
    const hold = await q.acquire({ owner: "u1" });
    const w = q.whenIdle(ac.signal);
    ac.abort(new Error("stop"));
    await expect(w).rejects.toThrow("stop");
    hold();
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
