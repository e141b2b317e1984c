import type { FastifyInstance } from "fastify";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import type { InferenceApi } from "../types.js";
import type { ModelEntry } from "../ModelRegistry.js";
import { openAiErrorBody, openAiErrorHandler } from "../../../core/http/openAiError.js";
import { parseCompletionRequest, parseEmbeddingRequest } from "./parseOpenAi.js";
import { charged, disconnectSignal, meterTokens, respond } from "./openAiResponse.js";

/**
 * The OpenAI-compatible API, in its own scope with OpenAI's error shape:
 * GET /v1/models, POST /v1/completions, /v1/embeddings. POST /v1/chat/completions
 * is the chat service's (services/chat), in a scope of its own under /v1.
 * Access: an authenticated caller with the "chat" scope (services/auth enforces it).
 */
export async function openaiRoutes(app: FastifyInstance, opts: { inference: InferenceApi }): Promise<void> {
  const inference = opts.inference;
  app.setErrorHandler(openAiErrorHandler);
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(openAiErrorBody(new SovereignError("NOT_FOUND", `No route for ${request.method} ${request.url.split("?")[0]}.`))),
  );
  const config = { scope: "chat" as const };

  // OpenAI's model object plus `kind` and, for a model that crashed its runner, `quarantined` with the reason.
  const modelObject = (m: ModelEntry) => ({
    id: m.name, object: "model", created: Math.floor(Date.parse(m.addedAt) / 1000) || 0, owned_by: "sovereign-node", kind: m.kind,
    ...(m.quarantine ? { quarantined: { reason: m.quarantine.reason, signal: m.quarantine.signal, at: m.quarantine.at } } : {}),
  });

  app.get("/models", { config }, async () => ({ object: "list", data: inference.models().map(modelObject) }));

  app.get<{ Params: { id: string } }>("/models/:id", { config }, async (request) => modelObject(inference.registry.get(request.params.id)));

  app.post("/completions", { config }, async (request, reply) => {
    const p = parseCompletionRequest(request.body);
    const q = meterTokens(app, request, p.sampling);
    return respond(
      request, reply, p,
      (onText, signal) => charged(q, inference.generate({
        prompt: p.prompt, sampling: p.sampling, signal,
        ...(request.principal ? { owner: request.principal.userId } : {}),
        // conversation_id only keys the KV slot here (no stored conversation on raw completions).
        ...(p.model ? { model: p.model } : {}), ...(p.conversationId ? { slotKey: `c::${p.conversationId}` } : {}), ...(onText ? { onText } : {}),
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
    const q = meterTokens(app, request);
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
