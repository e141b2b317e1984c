import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "node:http";
import { Ollama } from "ollama";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";
import { testEmbedderDir, testLlamaModel } from "../models/testModelCache.js";
import { listenExtra, type ExtraListener } from "../../appliance/extraListener.js";

// An unchanged Ollama client from npm, pointed at the node's Ollama listener (the root of its own port, as on 11434).
describe("the Ollama-compatible API, through the official ollama client", () => {
  let t: InferenceTestApp;
  let listener: ExtraListener;
  let ollama: Ollama;

  beforeAll(async () => {
    t = await startInferenceApp({ "inference.maxTokensDefault": 16 });
    await t.app.inference.registry.add(testEmbedderDir(), { name: "emb" });
    listener = await listenExtra(t.app, { host: "127.0.0.1", port: 0, prefix: "/ollama" });
    ollama = new Ollama({ host: listener.url, headers: { Authorization: `Bearer ${t.key}` } });
  });
  afterAll(async () => {
    await listener?.close();
    await t?.close();
  });

  it("lists, shows and versions models the way Ollama does", async () => {
    const tags = await ollama.list();
    expect(tags.models.map((m) => m.name).sort()).toEqual(["emb", "tiny"]);
    const tiny = tags.models.find((m) => m.name === "tiny")!;
    expect(tiny.details.format).toBe("gguf");
    expect(tiny.digest).toMatch(/^[0-9a-f]{64}$/);
    const show = await ollama.show({ model: "tiny" });
    expect(show.details.family).toBe("llama");
    expect(show.capabilities).toContain("completion");
    expect((await ollama.version()).version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("chats without streaming, with Ollama's statistics", async () => {
    const r = await ollama.chat({ model: "tiny", messages: [{ role: "user", content: "Once upon a time" }], stream: false, options: { temperature: 0, num_predict: 8, seed: 1 } });
    expect(r.done).toBe(true);
    expect(r.message.role).toBe("assistant");
    expect(r.message.content.length).toBeGreaterThan(0);
    expect(r.eval_count).toBeGreaterThan(0);
    expect(r.eval_count).toBeLessThanOrEqual(8);
    expect(r.prompt_eval_count).toBeGreaterThan(0);
    expect(r.total_duration).toBeGreaterThan(0);
    expect(["stop", "length"]).toContain(r.done_reason);
  });

  it("streams chat as NDJSON pieces ending with done, and the text matches the non-streamed answer", async () => {
    const req = { model: "tiny", messages: [{ role: "user", content: "Once upon a time" }], options: { temperature: 0, num_predict: 8, seed: 1 } };
    const whole = await ollama.chat({ ...req, stream: false });
    const pieces: string[] = [];
    let last: { done: boolean; eval_count?: number } | undefined;
    for await (const part of await ollama.chat({ ...req, stream: true })) {
      pieces.push(part.message.content);
      last = part;
    }
    expect(pieces.length).toBeGreaterThan(1);
    expect(last?.done).toBe(true);
    expect(pieces.join("")).toBe(whole.message.content);
  });

  it("generates with the chat template, streaming, and in raw mode", async () => {
    const req = { model: "tiny", prompt: "Once upon a time", system: "Tell a story.", options: { num_predict: 6, temperature: 0 } };
    const whole = await ollama.generate({ ...req, stream: false });
    expect(whole.done).toBe(true);
    expect(whole.eval_count).toBeGreaterThanOrEqual(0);
    const parts: string[] = [];
    let done = false;
    for await (const p of await ollama.generate({ ...req, stream: true })) {
      parts.push(p.response ?? "");
      done = p.done;
    }
    expect(done).toBe(true);
    expect(parts.join("")).toBe(whole.response);
    const raw = await ollama.generate({ model: "tiny", prompt: "Once upon a time", raw: true, stream: false, options: { num_predict: 6, temperature: 0 } });
    expect(raw.done).toBe(true);
    expect(raw.response?.length).toBeGreaterThan(0);
  });

  it("answers json format with a parseable object", async () => {
    const r = await ollama.chat({ model: "tiny", messages: [{ role: "user", content: "a JSON object please" }], format: "json", stream: false, options: { num_predict: 48, temperature: 0 } });
    if (r.done_reason === "stop") expect(() => JSON.parse(r.message.content)).not.toThrow();
    else expect(r.message.content.trimStart().startsWith("{")).toBe(true);
  });

  it("embeds with /api/embed and /api/embeddings", async () => {
    const e = await ollama.embed({ model: "emb", input: ["first text", "second text"] });
    expect(e.embeddings).toHaveLength(2);
    expect(e.embeddings[0]!.length).toBeGreaterThan(0);
    const legacy = await ollama.embeddings({ model: "emb", prompt: "first text" });
    expect(legacy.embedding).toEqual(e.embeddings[0]);
  });

  it("shows the loaded model in ps", async () => {
    const ps = await ollama.ps();
    expect(ps.models.map((m) => m.name)).toContain("tiny");
  });

  it("loads a model on an empty chat or generate and unloads it with keep_alive 0, as Ollama's own CLI and apps do", async () => {
    const unload = await ollama.generate({ model: "tiny", prompt: "", keep_alive: 0 });
    expect(unload).toMatchObject({ model: "tiny", response: "", done: true, done_reason: "unload" });
    expect(t.app.inference.status().loaded).toBeNull();
    expect((await ollama.ps()).models).toEqual([]);
    const load = await ollama.chat({ model: "tiny", messages: [] });
    expect(load).toMatchObject({ model: "tiny", message: { role: "assistant", content: "" }, done: true, done_reason: "load" });
    expect(t.app.inference.status().loaded?.name).toBe("tiny");
    await ollama.chat({ model: "tiny", messages: [], keep_alive: "0s" });
    expect(t.app.inference.status().loaded).toBeNull();
    expect(await ollama.generate({ model: "tiny", prompt: "" })).toMatchObject({ done_reason: "load" });
    expect(t.app.inference.status().loaded?.name).toBe("tiny");
    await expect(ollama.chat({ model: "nope", messages: [] })).rejects.toMatchObject({ status_code: 404 });
    // A turn that loads the model first: the load is its own duration, not part of the tokens' (apps show eval_count / eval_duration as the speed).
    await ollama.generate({ model: "tiny", prompt: "", keep_alive: 0 });
    const r = await ollama.chat({ model: "tiny", messages: [{ role: "user", content: "Once upon a time" }], options: { num_predict: 4 } });
    expect(r.load_duration).toBeGreaterThan(0);
    expect(r.load_duration + r.prompt_eval_duration + r.eval_duration).toBeLessThanOrEqual(r.total_duration);
  });

  it("deletes a model for a key with the models scope, and names the registry calls an offline node does not offer", async () => {
    await t.app.inference.registry.add(testLlamaModel(), { name: "spare" });
    const auth = (t.app as unknown as { auth: { users: { list(): Array<{ id: string }> }; keys: { create(i: object): { secret: string } } } }).auth;
    const chatOnly = new Ollama({ host: listener.url, headers: { Authorization: `Bearer ${auth.keys.create({ userId: auth.users.list()[0]!.id, name: "chat only", scopes: ["chat"], expiresAt: null }).secret}` } });
    await expect(chatOnly.delete({ model: "spare" })).rejects.toMatchObject({ status_code: 403 });
    await ollama.delete({ model: "spare" });
    expect((await ollama.list()).models.map((m) => m.name)).not.toContain("spare");
    await expect(ollama.delete({ model: "spare" })).rejects.toMatchObject({ status_code: 404 });
    const removed = t.app.audit.list({ type: "model.removed", limit: 1 })[0];
    expect(removed).toMatchObject({ subject: "spare", details: { via: "ollama" } });
    await expect(ollama.pull({ model: "llama3.2" })).rejects.toMatchObject({ status_code: 400, error: expect.stringContaining('cannot pull "llama3.2" from Ollama\'s registry') });
    await expect(ollama.create({ model: "mine", from: "tiny" })).rejects.toMatchObject({ status_code: 400, error: expect.stringContaining("Modelfile") });
    await expect(ollama.copy({ source: "tiny", destination: "t2" })).rejects.toMatchObject({ status_code: 400 });
  });

  it("gives Ollama's error shape: unknown model, unknown option, no key", async () => {
    await expect(ollama.chat({ model: "nope", messages: [{ role: "user", content: "x" }], stream: false })).rejects.toMatchObject({ status_code: 404 });
    await expect(ollama.chat({ model: "tiny", messages: [{ role: "user", content: "x" }], stream: false, options: { mirostat_eta: 1 } as never })).rejects.toMatchObject({
      status_code: 400, error: expect.stringContaining("mirostat_eta"),
    });
    const anonymous = new Ollama({ host: listener.url });
    await expect(anonymous.list()).rejects.toMatchObject({ status_code: 401 });
  });

  it("reads the body as JSON whatever its content type, as Ollama does (its docs use `curl -d`), and keeps the error shapes", async () => {
    const body = JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "x" }], stream: false });
    const post = (path: string, type: string | null, b: string) =>
      new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
        const req = request(`${listener.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${t.key}`, ...(type ? { "content-type": type } : {}) } }, (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
        });
        req.on("error", reject);
        req.end(b);
      });
    for (const type of ["application/x-www-form-urlencoded", "text/plain;charset=UTF-8", null]) {
      const res = await post("/api/chat", type, body);
      expect(res.status, String(type)).toBe(200);
      expect(res.json).toMatchObject({ model: "tiny", done: true, message: { role: "assistant" } });
    }
    expect(await post("/api/chat", "application/x-www-form-urlencoded", "model=tiny")).toMatchObject({ status: 400, json: { error: expect.stringMatching(/^The request body is not valid JSON\./), code: "INVALID_JSON" } });
    expect(await post("/api/show", "text/plain", `{"model":${"[".repeat(200)}${"]".repeat(200)}}`)).toMatchObject({ status: 400, json: { code: "JSON_TOO_DEEP" } });
    // A browser's cookie session gains no CSRF path from it: a form-typed POST without the token is refused.
    const login = await t.call("/api/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: "correct horse battery staple" }) });
    const cookie = (login.headers.getSetCookie()).map((c) => c.split(";")[0]).join("; ");
    const forged = await fetch(`${t.url}/ollama/api/chat`, { method: "POST", headers: { cookie, "content-type": "application/x-www-form-urlencoded" }, body });
    expect(forged.status).toBe(403);
    expect(await forged.json()).toMatchObject({ code: "CSRF_FAILED" });
  });

  it("serves the same routes under /ollama on the main port", async () => {
    const res = await t.call("/ollama/api/tags");
    expect(res.status).toBe(200);
    expect(((await res.json()) as { models: unknown[] }).models).toHaveLength(2);
  });
});
