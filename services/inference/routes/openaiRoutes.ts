import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import { toSovereignError } from "../../../core/http/errorReply.js";
import type { GenerateResult, InferenceApi } from "../types.js";
import { openAiErrorBody, openAiErrorHandler } from "../../../core/http/openAiError.js";
import { parseChatRequest, parseCompletionRequest, parseEmbeddingRequest, type ParsedGeneration } from "./parseOpenAi.js";

/** An AbortSignal that fires when the client goes away before the response is complete. */
function disconnectSignal(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) ac.abort(new Error("client disconnected"));
  });
  request.raw.on("aborted", () => ac.abort(new Error("client disconnected")));
  return ac.signal;
}

/** The auth service's quota calls, when it is loaded (duck-typed: inference does not import auth). */
interface QuotaGate {
  checkQuota(principal: unknown): void;
  chargeTokens(principal: unknown, tokens: number): void;
}

function quota(app: FastifyInstance, request: FastifyRequest): { charge(tokens: number): void } {
  const gate = app.hasDecorator("auth") ? (app as unknown as { auth: Partial<QuotaGate> }).auth : undefined;
  const principal = (request as unknown as { principal?: unknown }).principal;
  if (!gate?.checkQuota || !gate.chargeTokens || !principal) return { charge: () => undefined };
  gate.checkQuota(principal);
  return { charge: (tokens) => gate.chargeTokens?.(principal, tokens) };
}

function usage(r: GenerateResult) {
  return {
    prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens,
    // OpenAI's field for prompt tokens served from cache: here, the KV prefix kept from an earlier turn.
    prompt_tokens_details: { cached_tokens: r.reusedPromptTokens },
  };
}

/** The caller's user id (the auth service's principal; "local" without one, as the memory service does). */
function userIdOf(request: FastifyRequest): string {
  const principal = (request as unknown as { principal?: { userId?: unknown } | null }).principal;
  return typeof principal?.userId === "string" && principal.userId.length > 0 ? principal.userId : "local";
}

/**
 * Extension field `sovereign` (chat only, when the request named a
 * conversation or asked for memory): the stored message ids (for feedback)
 * and the memory ids the prompt cited.
 */
function extension(r: GenerateResult): Record<string, unknown> {
  if (!r.conversation && !r.citations) return {};
  return {
    sovereign: {
      conversation_id: r.conversation?.id ?? null,
      user_message_id: r.conversation?.userMessageId ?? null,
      assistant_message_id: r.conversation?.assistantMessageId ?? null,
      citations: r.citations ?? [],
      reused_prompt_tokens: r.reusedPromptTokens,
    },
  };
}

async function charged(q: { charge(tokens: number): void }, run: Promise<GenerateResult>): Promise<GenerateResult> {
  const r = await run;
  q.charge(r.promptTokens + r.completionTokens);
  return r;
}

/**
 * Runs one generation, as JSON or as an SSE stream. Headers are sent with the
 * first token, so errors before it (queue full, prompt too long) keep their
 * HTTP status; an error after it ends the stream with an error event.
 */
async function respond(
  request: FastifyRequest,
  reply: FastifyReply,
  p: ParsedGeneration,
  run: (onText: ((t: string) => void) | undefined, signal: AbortSignal) => Promise<GenerateResult>,
  shape: {
    object: string;
    chunkObject: string;
    idPrefix: string;
    chunk: (text: string | null, finish: string | null, first: boolean) => Record<string, unknown>;
    full: (r: GenerateResult) => Record<string, unknown>;
    /** Extension fields: on the body, and in a last chunk (choices: []) before [DONE]. */
    extra?: (r: GenerateResult) => Record<string, unknown>;
  },
): Promise<unknown> {
  const id = `${shape.idPrefix}-${randomBytes(12).toString("hex")}`;
  const created = Math.floor(Date.now() / 1000);
  const signal = disconnectSignal(request, reply);
  if (!p.stream) {
    const r = await run(undefined, signal);
    return reply.send({ id, object: shape.object, created, model: r.model, system_fingerprint: null, ...shape.full(r), usage: usage(r), ...shape.extra?.(r) });
  }
  let started = false;
  let model = p.model ?? "";
  const send = (payload: unknown) => reply.raw.write(`data: ${JSON.stringify(payload)}\n\n`);
  const base = () => ({ id, object: shape.chunkObject, created, model, system_fingerprint: null });
  const start = () => {
    if (started) return;
    started = true;
    reply.hijack();
    reply.raw.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
    send({ ...base(), ...shape.chunk(null, null, true) });
  };
  try {
    const r = await run((text) => {
      start();
      if (!signal.aborted) send({ ...base(), ...shape.chunk(text, null, false) });
    }, signal);
    model = r.model;
    if (signal.aborted) {
      if (started) reply.raw.end();
      return reply;
    }
    start();
    send({ ...base(), ...shape.chunk(null, r.finishReason === "length" ? "length" : "stop", false) });
    if (p.includeUsage) send({ ...base(), choices: [], usage: usage(r) });
    const extra = shape.extra?.(r);
    if (extra && Object.keys(extra).length > 0) send({ ...base(), choices: [], ...extra });
    reply.raw.end("data: [DONE]\n\n");
    return reply;
  } catch (err) {
    if (!started) throw err;
    const e = toSovereignError(err as Error);
    if (e.status >= 500) request.log.error({ err }, "stream failed");
    send(openAiErrorBody(e));
    reply.raw.end("data: [DONE]\n\n");
    return reply;
  }
}

/**
 * The OpenAI-compatible API, in its own scope with OpenAI's error shape:
 * GET /v1/models, POST /v1/chat/completions, /v1/completions, /v1/embeddings.
 * Access: an authenticated caller with the "chat" scope (services/auth enforces it).
 */
export async function openaiRoutes(app: FastifyInstance, opts: { inference: InferenceApi }): Promise<void> {
  const inference = opts.inference;
  app.setErrorHandler(openAiErrorHandler);
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(openAiErrorBody(new SovereignError("NOT_FOUND", `No route for ${request.method} ${request.url.split("?")[0]}.`))),
  );
  const config = { scope: "chat" as const };

  app.get("/models", { config }, async () => ({
    object: "list",
    data: inference.models().map((m) => ({ id: m.name, object: "model", created: Math.floor(Date.parse(m.addedAt) / 1000) || 0, owned_by: "sovereign-node", kind: m.kind })),
  }));

  app.get<{ Params: { id: string } }>("/models/:id", { config }, async (request) => {
    const m = inference.registry.get(request.params.id);
    return { id: m.name, object: "model", created: Math.floor(Date.parse(m.addedAt) / 1000) || 0, owned_by: "sovereign-node", kind: m.kind };
  });

  app.post("/chat/completions", { config }, async (request, reply) => {
    const p = parseChatRequest(request.body);
    const q = quota(app, request);
    return respond(
      request, reply, p,
      (onText, signal) => charged(q, inference.generate({
        messages: p.messages, sampling: p.sampling, signal, memory: p.memory, userId: userIdOf(request),
        ...(p.model ? { model: p.model } : {}), ...(p.conversationId ? { conversationId: p.conversationId } : {}), ...(onText ? { onText } : {}),
      })),
      {
        object: "chat.completion", chunkObject: "chat.completion.chunk", idPrefix: "chatcmpl",
        chunk: (text, finish, first) => ({
          choices: [{ index: 0, delta: first ? { role: "assistant", content: "" } : text !== null ? { content: text } : {}, logprobs: null, finish_reason: finish }],
        }),
        full: (r) => ({
          choices: [{ index: 0, message: { role: "assistant", content: r.text, refusal: null }, logprobs: null, finish_reason: r.finishReason === "length" ? "length" : "stop" }],
        }),
        extra: extension,
      },
    );
  });

  app.post("/completions", { config }, async (request, reply) => {
    const p = parseCompletionRequest(request.body);
    const q = quota(app, request);
    return respond(
      request, reply, p,
      (onText, signal) => charged(q, inference.generate({
        prompt: p.prompt, sampling: p.sampling, signal,
        ...(p.model ? { model: p.model } : {}), ...(p.conversationId ? { conversationId: p.conversationId } : {}), ...(onText ? { onText } : {}),
      })),
      {
        object: "text_completion", chunkObject: "text_completion", idPrefix: "cmpl",
        chunk: (text, finish, first) => (first ? { choices: [{ index: 0, text: "", logprobs: null, finish_reason: null }] } : { choices: [{ index: 0, text: text ?? "", logprobs: null, finish_reason: finish }] }),
        full: (r) => ({ choices: [{ index: 0, text: r.text, logprobs: null, finish_reason: r.finishReason === "length" ? "length" : "stop" }] }),
      },
    );
  });

  app.post("/embeddings", { config }, async (request, reply) => {
    const p = parseEmbeddingRequest(request.body);
    const q = quota(app, request);
    const signal = disconnectSignal(request, reply);
    const r = await inference.embed({ input: p.input, signal, ...(p.model ? { model: p.model } : {}) });
    q.charge(r.tokens);
    return {
      object: "list",
      model: r.model,
      data: r.vectors.map((v, index) => ({
        object: "embedding", index,
        embedding: p.base64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") : Array.from(v),
      })),
      usage: { prompt_tokens: r.tokens, total_tokens: r.tokens },
    };
  });
}
