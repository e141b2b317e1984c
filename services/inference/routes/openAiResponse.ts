import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { SovereignError } from "../../../core/errors/SovereignError.js";
import { toSovereignError } from "../../../core/http/errorReply.js";
import { openAiErrorBody } from "../../../core/http/openAiError.js";
import type { FinishReason, GenerateResult, SamplingOptions, ToolCallDelta } from "../types.js";
import type { ParsedGeneration } from "./parseOpenAi.js";

/**
 * The OpenAI response plumbing that every generation route shares: inference's
 * /v1/completions and the chat service's /v1/chat/completions (services/chat).
 */

/** An AbortSignal that fires when the client goes away before the response is complete. */
export function disconnectSignal(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) ac.abort(new Error("client disconnected"));
  });
  request.raw.on("aborted", () => ac.abort(new Error("client disconnected")));
  return ac.signal;
}

/** Token accounting for one request: refused up front when the caller's quota is used up, settled when it ends. */
export interface TokenMeter {
  /** Counts the tokens the request used and frees what it held in reserve; only the first call counts. */
  charge(tokens: number): void;
}

/**
 * The auth service's quota for the request's caller (every /v1 route needs
 * one; without a principal nothing is counted). With the request's sampling,
 * its max_tokens (or inference.maxTokensDefault) is capped in place to what the
 * quota has left, and that much stays reserved until `charge`, so one stream or
 * many parallel ones (or a turn offloaded to a peer, which gets the same
 * sampling) cannot go past the quota. Without sampling (embeddings) it only checks.
 */
export function meterTokens(app: FastifyInstance, request: FastifyRequest, sampling?: SamplingOptions): TokenMeter {
  const principal = request.principal;
  if (!principal) return { charge: () => undefined };
  const wanted = sampling ? (sampling.maxTokens ?? app.config["inference.maxTokensDefault"]) : 0;
  const grant = app.auth.reserveTokens(principal, wanted);
  if (sampling && grant.maxTokens < wanted) sampling.maxTokens = grant.maxTokens;
  return { charge: (tokens) => grant.settle(tokens) };
}

/** Charges a generation's prompt and completion tokens when it ends; a failed one frees its reservation and charges nothing. */
export async function charged<R extends GenerateResult>(meter: TokenMeter, run: Promise<R>): Promise<R> {
  let used = 0;
  try {
    const r = await run;
    used = r.promptTokens + r.completionTokens;
    return r;
  } finally {
    meter.charge(used);
  }
}

/**
 * An error after a stream's headers went out (the status can no longer say it): logged when it is the node's
 * fault, written by `send` in the stream's own shape, and the stream ends (with `tail`, e.g. SSE's [DONE]).
 */
export function endStreamWithError(request: FastifyRequest, reply: FastifyReply, err: unknown, send: (e: SovereignError) => void, tail?: string): FastifyReply {
  const e = toSovereignError(err as Error);
  if (e.status >= 500) request.log.error({ err }, "stream failed");
  send(e);
  if (tail === undefined) reply.raw.end();
  else reply.raw.end(tail);
  return reply;
}

export function usage(r: GenerateResult) {
  return {
    prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens,
    // OpenAI's field for prompt tokens served from cache: here, the KV prefix kept from an earlier turn.
    prompt_tokens_details: { cached_tokens: r.reusedPromptTokens },
  };
}

/** OpenAI's finish_reason for ours: an aborted run (its client gone) reads "stop". */
export function finishReason(r: FinishReason): "stop" | "length" | "tool_calls" {
  return r === "length" || r === "tool_calls" ? r : "stop";
}

export interface ResponseShape<R extends GenerateResult> {
  object: string;
  chunkObject: string;
  idPrefix: string;
  chunk: (text: string | null, finish: string | null, first: boolean) => Record<string, unknown>;
  /** A streamed piece of a tool call (chat only). */
  toolChunk?: (delta: ToolCallDelta) => Record<string, unknown>;
  full: (r: R) => Record<string, unknown>;
  /** Extension fields: on the body, and in a last chunk (choices: []) before [DONE]. */
  extra?: (r: R) => Record<string, unknown>;
}

/**
 * Runs one generation, as JSON or as an SSE stream. Headers are sent with the
 * first token, so errors before it (queue full, prompt too long) keep their
 * HTTP status; an error after it ends the stream with an error event.
 */
export async function respond<R extends GenerateResult>(
  request: FastifyRequest,
  reply: FastifyReply,
  p: Pick<ParsedGeneration, "stream" | "includeUsage" | "model">,
  run: (onText: ((t: string) => void) | undefined, signal: AbortSignal, onToolCall?: (delta: ToolCallDelta) => void) => Promise<R>,
  shape: ResponseShape<R>,
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
    const toolChunk = shape.toolChunk;
    const r = await run((text) => {
      start();
      if (!signal.aborted) send({ ...base(), ...shape.chunk(text, null, false) });
    }, signal, toolChunk ? (delta) => {
      start();
      if (!signal.aborted) send({ ...base(), ...toolChunk(delta) });
    } : undefined);
    model = r.model;
    if (signal.aborted) {
      if (started) reply.raw.end();
      return reply;
    }
    start();
    send({ ...base(), ...shape.chunk(null, finishReason(r.finishReason), false) });
    if (p.includeUsage) send({ ...base(), choices: [], usage: usage(r) });
    const extra = shape.extra?.(r);
    if (extra && Object.keys(extra).length > 0) send({ ...base(), choices: [], ...extra });
    reply.raw.end("data: [DONE]\n\n");
    return reply;
  } catch (err) {
    if (!started) throw err;
    return endStreamWithError(request, reply, err, (e) => send(openAiErrorBody(e)), "data: [DONE]\n\n");
  }
}
