import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";

const QUOTA = 50;

/**
 * Issue 16, finding 3: quotas were checked before a request and never during
 * it, so one stream with a big max_tokens, or eight at once, went far past the
 * limit. Each request's max_tokens is now capped to what is left, and what is
 * granted stays reserved until the request ends.
 */
describe("token quotas hold during requests: streams, parallel requests, both APIs", () => {
  let t: InferenceTestApp;
  beforeAll(async () => {
    t = await startInferenceApp();
  });
  afterAll(async () => t?.close());

  /** A fresh "chat" key of the admin with an hourly quota, and a client for it. */
  function keyWithQuota(perHour: number): { client: OpenAI; keyId: string } {
    const admin = t.app.auth.users.byName("admin")!;
    const { secret, key } = t.app.auth.keys.create({ userId: admin.id, name: `quota ${perHour}`, scopes: ["chat"], expiresAt: null, tokensPerHour: perHour, tokensPerDay: null });
    return { client: new OpenAI({ baseURL: `${t.url}/v1`, apiKey: secret, maxRetries: 0, timeout: 60_000 }), keyId: key.id };
  }

  /** Completion tokens one streamed chat delivered (from its usage chunk), or the HTTP status it was refused with. */
  async function streamedTokens(client: OpenAI, maxTokens: number): Promise<number | { status: number }> {
    try {
      const stream = await client.chat.completions.create({
        model: "tiny", messages: [{ role: "user", content: "Tell me a long story" }], max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true },
      });
      let tokens = 0;
      for await (const c of stream) if (c.usage) tokens = c.usage.completion_tokens;
      return tokens;
    } catch (err) {
      return { status: (err as { status?: number }).status ?? -1 };
    }
  }

  const usedOf = (keyId: string) => t.app.auth.quotaStatus({ kind: "apiKey", userId: t.app.auth.users.byName("admin")!.id, username: "admin", role: "admin", scopes: ["chat"], keyId }).key![0].used;

  it(`one stream asking for 400 tokens under a ${QUOTA}-token quota gets at most ${QUOTA}, and the next request is refused`, async () => {
    const { client, keyId } = keyWithQuota(QUOTA);
    const got = await streamedTokens(client, 400);
    process.stdout.write(`quota: one stream, max_tokens 400, quota ${QUOTA}: ${JSON.stringify(got)} completion tokens, ledger ${usedOf(keyId)}\n`);
    expect(typeof got).toBe("number");
    expect(got as number).toBeGreaterThan(0);
    expect(got as number).toBeLessThanOrEqual(QUOTA);
    const next = await streamedTokens(client, 10);
    expect(next).toEqual({ status: 429 });
  });

  it(`eight parallel streams share one ${QUOTA}-token quota: together at most ${QUOTA} tokens, the rest 429`, async () => {
    const { client, keyId } = keyWithQuota(QUOTA);
    const results = await Promise.all(Array.from({ length: 8 }, () => streamedTokens(client, 100)));
    const delivered = results.filter((r): r is number => typeof r === "number").reduce((a, b) => a + b, 0);
    process.stdout.write(`quota: 8 parallel streams, max_tokens 100, quota ${QUOTA}: ${delivered} completion tokens in all, ${results.filter((r) => typeof r !== "number").length} refused; ledger ${usedOf(keyId)}\n`);
    expect(delivered).toBeGreaterThan(0);
    expect(delivered).toBeLessThanOrEqual(QUOTA);
    for (const r of results) if (typeof r !== "number") expect(r.status).toBe(429);
  });

  it("/v1/completions is capped the same way, streaming or not, and the ledger counts what was used", async () => {
    const { client, keyId } = keyWithQuota(QUOTA);
    const r = await client.completions.create({ model: "tiny", prompt: "Once upon a time", max_tokens: 400, temperature: 0 });
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(QUOTA);
    expect(r.choices[0]!.finish_reason).toBe("length");
    expect(usedOf(keyId)).toBe(r.usage!.total_tokens);
    await expect(client.completions.create({ model: "tiny", prompt: "again", max_tokens: 5 })).rejects.toMatchObject({ status: 429 });
  });

  it("Ollama's API is capped the same way (num_predict 400 under a 50-token quota)", async () => {
    const admin = t.app.auth.users.byName("admin")!;
    const { secret, key } = t.app.auth.keys.create({ userId: admin.id, name: "ollama quota", scopes: ["chat"], expiresAt: null, tokensPerHour: QUOTA, tokensPerDay: null });
    const res = await fetch(`${t.url}/ollama/api/generate`, {
      method: "POST", headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", prompt: "Once upon a time", stream: false, options: { num_predict: 400, temperature: 0 } }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { eval_count: number };
    expect(body.eval_count).toBeGreaterThan(0);
    expect(body.eval_count).toBeLessThanOrEqual(QUOTA);
    expect(usedOf(key.id)).toBeGreaterThanOrEqual(body.eval_count);
  });

  it("a request that fails holds nothing back: its reservation is released", async () => {
    const { client, keyId } = keyWithQuota(QUOTA);
    await expect(client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }], max_tokens: 40 })).rejects.toMatchObject({ status: 404 });
    expect(usedOf(keyId)).toBe(0);
    const r = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 40, temperature: 0 });
    expect(r.usage!.completion_tokens).toBe(40);
  });
});
