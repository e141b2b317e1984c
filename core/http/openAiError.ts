import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { prepareErrorReply } from "./errorReply.js";
import type { SovereignError } from "../errors/SovereignError.js";

/** OpenAI's error body: { error: { message, type, param, code } }. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const CODE_NAMES: Record<string, string> = {
  MODEL_NOT_FOUND: "model_not_found",
  NO_MODEL: "model_not_found",
  CONTEXT_LENGTH_EXCEEDED: "context_length_exceeded",
  INVALID_JSON: "invalid_json",
  QUEUE_FULL: "rate_limit_exceeded",
  RATE_LIMITED: "rate_limit_exceeded",
  UNAUTHENTICATED: "invalid_api_key",
};

function typeFor(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "invalid_request_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export function openAiErrorBody(e: SovereignError): OpenAiErrorBody {
  const param = typeof e.details?.param === "string" ? e.details.param : e.code.startsWith("MODEL") || e.code === "NO_MODEL" ? "model" : null;
  const message = e.hint && e.status < 500 ? `${e.message} ${e.hint}` : e.message;
  return { error: { message, type: typeFor(e.status), param, code: CODE_NAMES[e.code] ?? e.code.toLowerCase() } };
}

/** The /v1 scope's error handler: catalog errors in OpenAI's shape, with Retry-After on 429 and 503. */
export function openAiErrorHandler(err: FastifyError | SovereignError, request: FastifyRequest, reply: FastifyReply) {
  return reply.send(openAiErrorBody(prepareErrorReply(err, request, reply)));
}
