import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";
import { testLlamaModel } from "../models/testModelCache.js";
import { Mosquitto, pair, until } from "./federationHelpers.js";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";

const SERVED_BY = "x-sovereign-served-by";
// A peer loads a model on demand (a runner process per model) before its first token; tests load it first.
const FIRST_TOKEN_MS = 3000;

/** A node on the test broker serving HTTP with a key (inference test settings: one engine thread, a small context). */
function node(name: string, brokerUrl: string, slots: number): Promise<InferenceTestApp> {
  return startInferenceApp({
    "node.name": name,
    "federation.enabled": true, "federation.broker.mode": "external", "federation.broker.url": brokerUrl, "federation.discovery": false,
    "federation.offload.firstTokenTimeoutMs": FIRST_TOKEN_MS, "federation.offload.idleTimeoutMs": 3000, "federation.offload.breakerThreshold": 10,
    "scheduler.enabled": false,
    "tuning.parallelSequences": slots,
    // Runners are stopped (SIGSTOP) on purpose below to hold a slot; they must not be replaced meanwhile.
    "inference.runnerHeartbeatTimeoutMs": 600_000,
  });
}

interface Body {
  choices: Array<{ message: { content: string } }>;
  usage: { prompt_tokens: number; completion_tokens: number };
  sovereign?: { served_by: string; served_by_name?: string };
}

function chatBody(model: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 8, temperature: 0, ...extra });
}

/** The pid of the runner holding `model` on a node (after a load). */
function runnerPid(t: InferenceTestApp, model: string): number {
  const r = t.app.inference.status().runners.find((x) => x.model === model && x.kind === "llm");
  if (!r) throw new Error(`no runner for ${model}`);
  return r.pid;
}

/**
 * Holds a node's only generation slot: its runner is stopped (SIGSTOP), then
 * a generation starts and waits on it. Deterministic, unlike a long answer.
 * `release` lets the runner go on and waits for that generation to end.
 */
async function saturate(t: InferenceTestApp, model: string): Promise<{ release: () => Promise<void> }> {
  await t.app.inference.load(model);
  const pid = runnerPid(t, model);
  process.kill(pid, "SIGSTOP");
  const blocker = t.app.inference.generate({ model, messages: [{ role: "user", content: "hold" }], sampling: { maxTokens: 4 } }).catch(() => undefined);
  await until(() => t.app.inference.status().queue.active === 1, "the blocker to hold the slot");
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      process.kill(pid, "SIGCONT");
      await blocker;
    },
  };
}

const auditOf = (t: InferenceTestApp, type: string) => t.app.audit.list({ type });

describe.runIf(requireTools("mosquitto"))("chat offload from /v1/chat/completions between two nodes (Mosquitto, generated tiny llama)", () => {
  let broker: Mosquitto;
  let pi: InferenceTestApp, jetson: InferenceTestApp;
  let J: string;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    // The pi has one slot and "tiny"; the jetson two slots, "tiny" and "story" (the same weights under another name).
    pi = await node("pi", broker.url, 1);
    jetson = await node("jetson", broker.url, 2);
    J = jetson.app.identity.nodeId;
    await jetson.app.inference.registry.add(testLlamaModel(), { name: "story" });
    jetson.app.federation.issueManifest();
    await pair(pi, jetson, "core");
    await pair(jetson, pi, "core");
    await until(() => pi.app.federation.offload.peerFor("story")?.nodeId === J, "the jetson to offer 'story'", 30_000);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([pi, jetson].filter(Boolean).map((t) => t.close()));
    await broker?.dispose();
  });

  it("a model this node lacks is answered by the peer that has it, named in the header and the extension field; audited and metered", async () => {
    await jetson.app.inference.load("story");
    const res = await pi.call("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("story") });
    expect(res.status).toBe(200);
    expect(res.headers.get(SERVED_BY)).toBe(J);
    const body = (await res.json()) as Body;
    expect(body.sovereign).toMatchObject({ served_by: J, served_by_name: "jetson" });
    expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    expect(body.usage.prompt_tokens).toBeGreaterThan(0);
    const [event] = auditOf(pi, "chat.offloaded");
    expect(event?.subject).toBe(J);
    expect(event?.details).toMatchObject({ peer: J, peerName: "jetson", reason: "no-model", model: "story", completionTokens: body.usage.completion_tokens, promptTokens: body.usage.prompt_tokens });
    // Without a peer that has it, the model is still unknown here.
    const missing = await pi.call("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("nowhere") });
    expect(missing.status).toBe(404);
  }, 60_000);

  it("streams from the peer: the header at the start, served_by in the last chunk, and the peer-served histograms move", async () => {
    const res = await pi.call("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("story", { stream: true }) });
    expect(res.status).toBe(200);
    expect(res.headers.get(SERVED_BY)).toBe(J);
    const events = (await res.text()).split("\n\n").filter((l) => l.startsWith("data: ") && l !== "data: [DONE]").map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
    const text = events.map((e) => ((e.choices as Array<{ delta?: { content?: string } }>)[0]?.delta?.content ?? "")).join("");
    expect(text.length).toBeGreaterThan(0);
    expect(events.at(-1)?.sovereign).toMatchObject({ served_by: J });
    const metrics = (await pi.app.inject({ method: "GET", url: "/metrics", headers: { host: "localhost" } })).body;
    expect(metrics).toMatch(/sovereign_inference_time_to_first_token_seconds_count\{served_by="peer"\} [1-9]/);
  }, 60_000);

  it("the Ollama chat route offloads the same way, and says so in the same header", async () => {
    const res = await pi.call("/ollama/api/chat", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "story", messages: [{ role: "user", content: "Once upon a time" }], stream: false, options: { temperature: 0, num_predict: 8 } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get(SERVED_BY)).toBe(J);
    const body = (await res.json()) as { message: { content: string }; eval_count: number };
    expect(body.message.content.length).toBeGreaterThan(0);
    expect(body.eval_count).toBeGreaterThan(0);
  }, 60_000);

  it("the caller's token quota holds for an offloaded turn: max_tokens capped, the peer's count charged, then 429", async () => {
    const admin = pi.app.auth.users.byName("admin")!;
    const { secret, key } = pi.app.auth.keys.create({ userId: admin.id, name: "quota 40", scopes: ["chat"], expiresAt: null, tokensPerHour: 40, tokensPerDay: null });
    const client = new OpenAI({ baseURL: `${pi.url}/v1`, apiKey: secret, maxRetries: 0, timeout: 60_000 });
    const { data, response } = await client.chat.completions
      .create({ model: "story", messages: [{ role: "user", content: "Tell me a long story" }], max_tokens: 400, temperature: 0 })
      .withResponse();
    expect(response.headers.get(SERVED_BY)).toBe(J);
    expect(data.usage!.completion_tokens).toBeGreaterThan(0);
    expect(data.usage!.completion_tokens).toBeLessThanOrEqual(40);
    const principal = { kind: "apiKey" as const, userId: admin.id, username: "admin", role: "admin" as const, scopes: ["chat" as const], keyId: key.id };
    expect(pi.app.auth.quotaStatus(principal).key![0]!.used).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);
    await expect(client.chat.completions.create({ model: "story", messages: [{ role: "user", content: "more" }], max_tokens: 10 })).rejects.toMatchObject({ status: 429 });
  }, 60_000);

  it("a saturated node (its one slot held) hands a model it has to the peer with a free slot", async () => {
    await jetson.app.inference.load("tiny");
    const hold = await saturate(pi, "tiny");
    try {
      const res = await pi.call("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("tiny") });
      expect(res.status).toBe(200);
      expect(res.headers.get(SERVED_BY)).toBe(J);
      expect(((await res.json()) as Body).sovereign?.served_by).toBe(J);
      expect(auditOf(pi, "chat.offloaded")[0]?.details).toMatchObject({ reason: "busy", model: "tiny" });
    } finally {
      await hold.release();
    }
  }, 60_000);

  it("a peer that stops mid-way (took the request, sends nothing) is given up after the first-token bound, and this node answers", async () => {
    const hold = await saturate(pi, "tiny");
    await jetson.app.inference.load("tiny");
    const peerRunner = runnerPid(jetson, "tiny");
    const served = jetson.app.federation.stats().offload.served;
    const failures = auditOf(pi, "chat.offload_failed").length;
    process.kill(peerRunner, "SIGSTOP");
    try {
      const started = Date.now();
      const answer = pi.call("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("tiny") });
      await until(() => jetson.app.federation.stats().offload.served > served, "the jetson to take the request");
      await until(() => auditOf(pi, "chat.offload_failed").length > failures, "the pi to give up on the jetson", 30_000);
      const failed = auditOf(pi, "chat.offload_failed")[0]!;
      expect(failed.details).toMatchObject({ peer: J, code: "FED_OFFLOAD_TIMEOUT", fallback: "local" });
      // The bound: the pi waited for the first-token timer, not for the peer.
      expect(Date.now() - started).toBeGreaterThanOrEqual(FIRST_TOKEN_MS);
      await hold.release();
      const res = await answer;
      expect(res.status).toBe(200);
      expect(res.headers.get(SERVED_BY)).toBe("local");
      const body = (await res.json()) as Body;
      expect(body.sovereign).toBeUndefined();
      expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);
    } finally {
      process.kill(peerRunner, "SIGCONT");
      await hold.release();
    }
  }, 90_000);

  it("a peer killed mid-way (its link gone without a goodbye) fails at once on its last will, and this node answers", async () => {
    await until(() => pi.app.federation.offload.peerFor("tiny")?.nodeId === J, "the jetson offering a slot again", 30_000);
    const hold = await saturate(pi, "tiny");
    const peerRunner = runnerPid(jetson, "tiny");
    const served = jetson.app.federation.stats().offload.served;
    const failures = auditOf(pi, "chat.offload_failed").length;
    process.kill(peerRunner, "SIGSTOP");
    try {
      const answer = pi.call("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("tiny") });
      await until(() => jetson.app.federation.stats().offload.served > served, "the jetson to take the request");
      jetson.app.federation.severLink();
      await until(() => auditOf(pi, "chat.offload_failed").length > failures, "the pi to give up on the jetson", 30_000);
      expect(auditOf(pi, "chat.offload_failed")[0]?.details).toMatchObject({ peer: J, code: "FED_OFFLOAD_PEER_LOST", fallback: "local" });
      await hold.release();
      const res = await answer;
      expect(res.status).toBe(200);
      expect(res.headers.get(SERVED_BY)).toBe("local");
    } finally {
      process.kill(peerRunner, "SIGCONT");
      await hold.release();
    }
  }, 90_000);
});
