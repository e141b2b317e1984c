import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { prepareErrorReply } from "../../core/http/errorReply.js";
import { jsonBodyParser } from "../../core/http/jsonBodyParser.js";
import type { GenerateRequest, GenerateResult, InferenceApi } from "../inference/types.js";
import { parseChatRequest, parseCompletionRequest, type ParsedGeneration } from "../inference/routes/parseOpenAi.js";
import { disconnectSignal, endStreamWithError } from "../inference/routes/openAiResponse.js";
import { ollamaChatToOpenAi, ollamaEmbedToOpenAi, ollamaGenerateToOpenAi, ollamaLoadRequest, type Translated } from "./toOpenAiBody.js";
import type { ModelEntry } from "../inference/ModelRegistry.js";
import { doneStats, ollamaToolCalls, psBody, showBody, tagsBody } from "./ollamaShapes.js";

/** Names the node that generated the answer, as on /v1/chat/completions. */
const SERVED_BY_HEADER = "x-sovereign-served-by";

/** The version Ollama clients read from /api/version: the Ollama API level these routes follow. */
export const OLLAMA_API_VERSION = "0.12.0";

export interface OllamaRoutesOptions {
  inference: InferenceApi;
  /**
   * Runs one generation for a caller: chat turns through the chat service (so
   * memory, quotas and the offload decision apply as on /v1), raw prompts
   * through inference. `onServedBy` names the node that answers ("local" or
   * a peer's node id) before the first text, for the x-sovereign-served-by header.
   */
  generate(request: FastifyRequest, req: GenerateRequest, parsed: ParsedGeneration, onServedBy: (servedBy: string) => void): Promise<GenerateResult>;
  idleUnloadMs: number;
  /** Removes an installed model (Ollama's /api/delete), unloading and auditing as the Models API does. */
  remove(request: FastifyRequest, name: string): Promise<ModelEntry>;
}

/** Ollama's error body is { "error": "message" }. */
function ollamaErrorHandler(err: FastifyError | SovereignError, request: FastifyRequest, reply: FastifyReply) {
  const e = prepareErrorReply(err, request, reply);
  // `error` is what Ollama's clients read; `code` is our catalog code, for scripts.
  return reply.send({ error: e.hint && e.status < 500 ? `${e.message} ${e.hint}` : e.message, code: e.code });
}

/**
 * Ollama's API (/api/chat, /api/generate, /api/embed, /api/embeddings, /api/tags,
 * /api/show, /api/ps, /api/version), registered under a prefix of the main app
 * and served at the root of its own listener (see appliance/ollamaListener.ts).
 * Requests are translated to the OpenAI shape and validated by the same parsers.
 */
export async function ollamaRoutes(app: FastifyInstance, opts: OllamaRoutesOptions): Promise<void> {
  const { inference } = opts;
  app.setErrorHandler(ollamaErrorHandler);
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `No route for ${request.method} ${request.url.split("?")[0]}.`, code: "NOT_FOUND" }));
  const config = { scope: "chat" as const };
  // Ollama reads every body as JSON, whatever its content type: its own docs call it with `curl ... -d '{...}'`,
  // which sends application/x-www-form-urlencoded (here that was a 415). No new CSRF path: a cookie session still
  // needs its X-CSRF-Token on a POST, and a Bearer key is not something a cross-site form can send.
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser("*", { parseAs: "string" }, jsonBodyParser(app));

  // Clients probe the root to see whether a server is there.
  app.get("/", { config }, async (_request, reply) => reply.type("text/plain").send("Ollama is running"));
  app.get("/api/version", { config }, async () => ({ version: OLLAMA_API_VERSION }));
  app.get("/api/tags", { config }, async () => tagsBody(inference.models()));
  app.get("/api/ps", { config }, async () => psBody(inference.status(), inference.models(), opts.idleUnloadMs));
  app.post<{ Body: { model?: unknown; name?: unknown } }>("/api/show", { config }, async (request) => {
    const name = request.body?.model ?? request.body?.name;
    if (typeof name !== "string" || name === "") throw new SovereignError("BAD_REQUEST", "model is required.", { details: { param: "model" } });
    return showBody(inference.registry.get(name));
  });

  /** `templated`: the prompt goes through the model's chat template; `chat`: the answer has /api/chat's shape. */
  const generateRoute = async (request: FastifyRequest, reply: FastifyReply, t: Translated, templated: boolean, chat: boolean) => {
    const parsed = templated ? parseChatRequest(t.body) : parseCompletionRequest(t.body);
    if (t.ignoredOptions.length > 0) void reply.header("x-sovereign-ignored-options", t.ignoredOptions.join(","));
    const signal = disconnectSignal(request, reply);
    const model = parsed.model ?? "";
    const base = () => ({ model, created_at: new Date().toISOString() });
    const piece = (text: string) => (chat ? { message: { role: "assistant", content: text } } : { response: text });
    const run = (onText: ((text: string) => void) | undefined) =>
      opts.generate(request, {
        sampling: parsed.sampling, signal,
        ...("messages" in parsed ? { messages: parsed.messages } : { prompt: (parsed as { prompt: string }).prompt }),
        // Function calling: the calls come back in the last message (Ollama's shape: arguments as an object).
        ...("tools" in parsed && parsed.tools ? { tools: parsed.tools } : {}),
        ...(parsed.model ? { model: parsed.model } : {}),
        ...(onText ? { onText } : {}),
      }, parsed, (by) => (parsed.stream ? reply.raw.setHeader(SERVED_BY_HEADER, by) : reply.header(SERVED_BY_HEADER, by)));
    const final = (r: GenerateResult, text: string) => {
      const calls = ollamaToolCalls(r.toolCalls);
      const last = chat ? { message: { role: "assistant", content: text, ...(calls ? { tool_calls: calls } : {}) } } : { response: text };
      return { ...base(), model: r.model, ...last, done: true, ...doneStats(r) };
    };
    if (!parsed.stream) {
      const r = await run(undefined);
      return reply.send(final(r, r.text));
    }
    let started = false;
    const line = (payload: unknown) => reply.raw.write(`${JSON.stringify(payload)}\n`);
    const start = () => {
      if (started) return;
      started = true;
      reply.hijack();
      const headers: Record<string, string> = { "content-type": "application/x-ndjson", "cache-control": "no-cache", "x-accel-buffering": "no" };
      if (t.ignoredOptions.length > 0) headers["x-sovereign-ignored-options"] = t.ignoredOptions.join(",");
      reply.raw.writeHead(200, headers);
    };
    try {
      const r = await run((text) => {
        start();
        if (!signal.aborted) line({ ...base(), ...piece(text), done: false });
      });
      if (signal.aborted) {
        if (started) reply.raw.end();
        return reply;
      }
      start();
      line(final(r, ""));
      reply.raw.end();
      return reply;
    } catch (err) {
      if (!started) throw err;
      // Ollama's clients raise an error for a streamed line that carries one.
      return endStreamWithError(request, reply, err, (e) => line({ error: e.message }));
    }
  };

  /**
   * Nothing to answer: load the model now, or with keep_alive 0 unload it, and answer at once (one object, streamed
   * or not, as Ollama does). Unloading waits for no one: a model in use stays, and the node's idle timer unloads it.
   */
  const loadRoute = async (request: FastifyRequest, reply: FastifyReply, chat: boolean) => {
    const asked = ollamaLoadRequest(request.body, chat);
    if (!asked) return false;
    const entry = inference.registry.get(asked.model);
    const status = inference.status();
    if (asked.unload) {
      if (status.loaded?.name === entry.name || status.embeddingsLoaded.includes(entry.name)) await inference.unload();
    } else if (entry.kind === "llm") await inference.load(entry.name);
    const empty = chat ? { message: { role: "assistant", content: "" } } : { response: "" };
    // true, not the reply: a reply is a thenable, and awaiting it would wait for the response to end.
    void reply.send({ model: entry.name, created_at: new Date().toISOString(), ...empty, done_reason: asked.unload ? "unload" : "load", done: true });
    return true;
  };

  app.post("/api/chat", { config }, async (request, reply) =>
    (await loadRoute(request, reply, true)) ? reply : generateRoute(request, reply, ollamaChatToOpenAi(request.body), true, true));
  app.post("/api/generate", { config }, async (request, reply) => {
    if (await loadRoute(request, reply, false)) return reply;
    const t = ollamaGenerateToOpenAi(request.body);
    return generateRoute(request, reply, t, t.chat, false);
  });

  // Model management. Removing is the Models API's removal (admins: the "models" scope); the registry calls are
  // refused by name, so a client such as Open WebUI shows why instead of a bare 404.
  app.delete<{ Body: { model?: unknown; name?: unknown } }>("/api/delete", { config: { scope: "models" as const } }, async (request, reply) => {
    const name = request.body?.model ?? request.body?.name;
    if (typeof name !== "string" || name === "") throw new SovereignError("BAD_REQUEST", "model is required.", { details: { param: "model" } });
    await opts.remove(request, name);
    return reply.send({});
  });
  const notOffered = (what: string) => async (request: FastifyRequest) => {
    const b = request.body as { model?: unknown; name?: unknown } | undefined;
    const name = typeof b?.model === "string" ? b.model : typeof b?.name === "string" ? b.name : undefined;
    throw new SovereignError("OLLAMA_NOT_OFFERED", what.replace("{model}", name ? ` "${name}"` : ""));
  };
  app.post("/api/pull", { config }, notOffered("This node is offline and cannot pull{model} from Ollama's registry."));
  app.post("/api/push", { config }, notOffered("This node is offline and cannot push{model} to Ollama's registry."));
  app.post("/api/create", { config }, notOffered("This node does not build models{model} from a Modelfile or blobs."));
  app.post("/api/copy", { config }, notOffered("This node does not copy models under a second name."));
  app.route({ method: ["HEAD", "POST"], url: "/api/blobs/:digest", config, handler: notOffered("This node takes no model blobs{model}.") });

  const embed = (legacy: boolean) => async (request: FastifyRequest) => {
    const p = ollamaEmbedToOpenAi(request.body, legacy);
    const t0 = performance.now();
    const r = await inference.embed({ model: p.model, input: p.input });
    const total = Math.round((performance.now() - t0) * 1e6);
    if (legacy) return { embedding: Array.from(r.vectors[0] ?? []) };
    return { model: r.model, embeddings: r.vectors.map((v) => Array.from(v)), total_duration: total, load_duration: 0, prompt_eval_count: r.tokens };
  };
  app.post("/api/embed", { config }, embed(false));
  app.post("/api/embeddings", { config }, embed(true));
}
