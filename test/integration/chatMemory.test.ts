import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LightMyRequestResponse } from "fastify";
import type { TestApp } from "../helpers/testApp.js";
import { as, buildAuthTestApp, claim } from "./authHelpers.js";
import { testEmbedderDir, testLlamaModel } from "../models/testModelCache.js";
import { runSummarization, summarizerFromInference } from "../../services/memory/summarizeJob.js";
import { inferenceTestSettings } from "./inferenceFixtures.js";

interface Extension {
  conversation_id: string | null;
  user_message_id: number | null;
  assistant_message_id: number | null;
  citations: number[];
  reused_prompt_tokens: number;
}

/**
 * Inference and memory wired together in the real app: stored conversations
 * continued through /v1/chat/completions (with KV prefix reuse), RAG with
 * citations, feedback by the returned ids, background embedding with the
 * configured ONNX model, and summarization with the real engine.
 */
describe("chat with memory (generated tiny llama + generated ONNX embedder)", () => {
  let t: TestApp;
  let key: string;
  let userId: string;
  const headers = () => ({ host: "localhost", authorization: `Bearer ${key}` });
  const api = (method: "GET" | "POST", url: string, payload?: object): Promise<LightMyRequestResponse> =>
    t.app.inject({ method, url, headers: headers(), ...(payload ? { payload } : {}) });
  const chat = (body: object) => api("POST", "/v1/chat/completions", { model: "tiny", max_tokens: 6, temperature: 0, ...body });
  const newConversation = async (): Promise<string> => {
    const res = await api("POST", "/api/conversations", { title: "test" });
    expect(res.statusCode).toBe(201);
    return (res.json() as { conversation: { id: string } }).conversation.id;
  };

  beforeAll(async () => {
    t = await buildAuthTestApp({
      ...inferenceTestSettings,
      "inference.embeddingModel": "configured-embedder",
      "scheduler.enabled": false,
    });
    const admin = await claim(t.app, t.dataDir);
    const res = await t.app.inject({ method: "POST", url: "/api/keys", headers: { host: "localhost", ...as(admin) }, payload: { name: "chat-memory", scopes: ["chat", "memory:read", "memory:write", "models"] } });
    expect(res.statusCode).toBe(201);
    key = (res.json() as { key: string }).key;
    userId = (res.json() as { userId?: string }).userId ?? "";
    await t.app.inference.registry.add(testLlamaModel(), { name: "tiny" });
    // Two embedding models: the first installed is not the configured one.
    await t.app.inference.registry.add(testEmbedderDir(), { name: "aaa-other-embedder" });
    await t.app.inference.registry.add(testEmbedderDir(), { name: "configured-embedder" });
  });
  afterAll(async () => t?.close());

  it("continues a stored conversation across two requests, reusing the KV prefix, and stores 4 messages", async () => {
    const id = await newConversation();
    const first = await chat({ conversation_id: id, messages: [{ role: "user", content: "Tell me about the happy dog in the park with the red ball." }] });
    expect(first.statusCode, first.body).toBe(200);
    const b1 = first.json() as { choices: Array<{ message: { content: string } }>; sovereign: Extension };
    expect(b1.sovereign.conversation_id).toBe(id);
    expect(b1.sovereign.assistant_message_id).toBeGreaterThan(b1.sovereign.user_message_id ?? Infinity);

    // The second turn streams; only the new message is sent.
    const second = await chat({ conversation_id: id, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "And then what happened?" }] });
    expect(second.statusCode).toBe(200);
    const events = second.body.split("\n\n").filter(Boolean).map((e) => e.replace(/^data: /, ""));
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { choices: unknown[]; usage?: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } }; sovereign?: Extension });
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.sovereign?.conversation_id).toBe(id);
    expect(last?.sovereign?.reused_prompt_tokens).toBeGreaterThan(0);
    const usage = chunks.find((c) => c.usage)?.usage;
    expect(usage?.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
    expect(usage?.prompt_tokens_details.cached_tokens).toBeLessThan(usage?.prompt_tokens ?? 0);
    const text = chunks.map((c) => ((c.choices[0] as { delta?: { content?: string } } | undefined)?.delta?.content ?? "")).join("");

    const conv = await api("GET", `/api/conversations/${id}`);
    const messages = (conv.json() as { messages: Array<{ id: number; role: string; content: string; meta: Record<string, unknown> | null }> }).messages;
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(messages[0]?.content).toBe("Tell me about the happy dog in the park with the red ball.");
    expect(messages[1]?.content).toBe(b1.choices[0]?.message.content);
    expect(messages[3]?.content).toBe(text);
    expect(messages[3]?.id).toBe(last?.sovereign?.assistant_message_id);
    expect(messages[3]?.meta).toMatchObject({ model: "tiny" });
  });

  it("refuses a conversation id that is not the caller's, and leaves chats without one unchanged", async () => {
    const res = await chat({ conversation_id: "no-such-conversation", messages: [{ role: "user", content: "hi" }] });
    expect(res.statusCode).toBe(404);
    expect((res.json() as { error: { code: string } }).error.code).toBe("conversation_not_found");
    const plain = await chat({ messages: [{ role: "user", content: "hi" }] });
    expect(plain.statusCode).toBe(200);
    expect(plain.json()).not.toHaveProperty("sovereign");
  });

  it("stores what an aborted answer generated, marked as aborted", async () => {
    const id = await newConversation();
    const ac = new AbortController();
    let pieces = 0;
    const r = await t.app.chat.complete({
      model: "tiny", userId, conversationId: id, messages: [{ role: "user", content: "Tell me a long story" }], sampling: { maxTokens: 40, temperature: 0 }, signal: ac.signal,
      // The first piece comes at once; later ones are gathered for inference.streamIntervalMs (the tiny model's whole answer fits in one).
      onText: () => {
        if (++pieces === 1) ac.abort();
      },
    });
    expect(r.finishReason).toBe("abort");
    const messages = t.app.memory.conversations.messages(userId, id);
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(messages[1]?.content).toBe(r.text);
    expect(messages[1]?.meta).toMatchObject({ aborted: true, finishReason: "abort" });
  });

  it("embeds memories in the background with the configured model, and vector search finds them", async () => {
    const note = "Zebras in the Serengeti migrate north every July.";
    const added = await api("POST", "/api/memory", { text: note });
    expect(added.statusCode).toBe(201);
    const memoryId = (added.json() as { ids: number[] }).ids[0];
    await t.app.memory.vectors.drain();
    const status = t.app.memory.vectors.status();
    expect(status.model).toMatch(/^configured-embedder@[0-9a-f]{12}$/);
    expect(status.pending).toBe(0);
    expect(status.indexed).toBeGreaterThan(0);
    const found = await api("GET", `/api/memory/search?mode=vector&limit=3&q=${encodeURIComponent(note)}`);
    expect(found.statusCode).toBe(200);
    const hits = (found.json() as { hits: Array<{ memory: { id: number } }> }).hits;
    expect(hits[0]?.memory.id).toBe(memoryId);
  });

  it("answers with memory context and cites memory ids that exist", async () => {
    const added = await api("POST", "/api/memory", { text: "The lighthouse keeper's cat is called Biscuit." });
    const memoryId = (added.json() as { ids: number[] }).ids[0];
    const res = await chat({ memory: { top_k: 4, token_budget: 100 }, messages: [{ role: "user", content: "What is the lighthouse keeper's cat called?" }] });
    expect(res.statusCode, res.body).toBe(200);
    const ext = (res.json() as { sovereign: Extension }).sovereign;
    expect(ext.citations).toContain(memoryId);
    for (const id of ext.citations) expect((await api("GET", `/api/memory/${id}`)).statusCode).toBe(200);
    expect(ext.conversation_id).toBeNull();

    // Streaming: the citations come in the last chunk before [DONE].
    const streamed = await chat({ stream: true, memory: true, messages: [{ role: "user", content: "What is the lighthouse keeper's cat called?" }] });
    const events = streamed.body.split("\n\n").filter(Boolean).map((e) => e.replace(/^data: /, ""));
    expect(events.at(-1)).toBe("[DONE]");
    const last = JSON.parse(events.at(-2) ?? "{}") as { choices: unknown[]; sovereign?: Extension };
    expect(last.choices).toEqual([]);
    expect(last.sovereign?.citations).toContain(memoryId);

    const bad = await chat({ memory: { top_k: 0 }, messages: [{ role: "user", content: "x" }] });
    expect(bad.statusCode).toBe(400);
  });

  it("takes feedback by the ids the chat returned; the correction is retrieved by a later similar question", async () => {
    const id = await newConversation();
    const question = "What is the capital city of Freedonia?";
    const res = await chat({ conversation_id: id, memory: true, messages: [{ role: "user", content: question }] });
    expect(res.statusCode).toBe(200);
    const ext = (res.json() as { sovereign: Extension }).sovereign;
    const fb = await api("POST", "/api/memory/feedback", {
      conversationId: ext.conversation_id, messageId: ext.assistant_message_id, rating: "down", correction: "The capital of Freedonia is Fredonia City.",
    });
    expect(fb.statusCode, fb.body).toBe(201);
    const { memoryId } = fb.json() as { memoryId: number };
    const stored = await api("GET", `/api/memory/${memoryId}`);
    expect((stored.json() as { memory: { text: string; kind: string } }).memory).toMatchObject({ kind: "correction", text: expect.stringContaining(question) });

    // A user message id is not an answer; an id from another conversation is refused.
    const wrong = await api("POST", "/api/memory/feedback", { conversationId: ext.conversation_id, messageId: ext.user_message_id, rating: "up" });
    expect(wrong.statusCode).toBe(400);

    const later = await chat({ memory: true, messages: [{ role: "user", content: "Which city is the capital of Freedonia?" }] });
    expect((later.json() as { sovereign: Extension }).sovereign.citations).toContain(memoryId);
  });

  it("summarizes a quiet conversation with the real engine", async () => {
    const id = await newConversation();
    t.app.memory.conversations.append(userId, id, [
      { role: "user", content: "I am planning a trip to Lisbon in May." },
      { role: "assistant", content: "Lisbon in May is warm; pack light clothes." },
    ]);
    const summarizer = summarizerFromInference(t.app.inference);
    expect(summarizer).toBeDefined();
    // The generated model has random weights: now and then it may answer a transcript
    // with nothing usable, which the job refuses to store, records as an episode and
    // retries on its next run. So: every failure is recorded, and the conversation is summarized within
    // a few runs, as the nightly schedule would do.
    const ac = new AbortController();
    let summarizedHere = false;
    for (let run = 0; run < 4 && !summarizedHere; run++) {
      const failuresBefore = t.app.memory.episodes.list({ kind: "summarize-failed", limit: 1000 }).length;
      const report = await runSummarization(t.app.memory, summarizer, { signal: ac.signal, deadline: Date.now() + 600_000 }, { afterMs: 0, now: () => Date.now() + 1000 });
      expect(report.model).toBe(true);
      expect(report.stoppedBy).toBe("done");
      const failuresRecorded = t.app.memory.episodes.list({ kind: "summarize-failed", limit: 1000 }).length - failuresBefore;
      expect(failuresRecorded, JSON.stringify(report)).toBe(report.failed);
      summarizedHere = t.app.memory.store.list(userId, { kind: "summary", limit: 50 }).some((m) => m.source === `conversation:${id}`);
    }
    const summaries = t.app.memory.store.list(userId, { kind: "summary", limit: 50 });
    expect(summaries.some((m) => m.source === `conversation:${id}`)).toBe(true);
  });
});
