import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { SovereignError } from "../errors/SovereignError.js";
import { LogSampler } from "./LogSampler.js";

/** Error and refusal lines per kind (code and route) and source address: five a minute, then a count. */
const errorLines = new LogSampler();

/**
 * What every error handler does before writing its body: map to the catalog,
 * log (errors at error level, 503s in one warn line, refusals at debug; each
 * kind from one address at most five lines a minute, then a count), set the
 * status and, on 429 and 503, Retry-After.
 */
export function prepareErrorReply(err: FastifyError | SovereignError | Error, request: FastifyRequest, reply: FastifyReply): SovereignError {
  const e = toSovereignError(err);
  const sample = errorLines.take(`${e.code} ${request.routeOptions.url ?? "-"} ${request.ip}`);
  if (sample.write) {
    const more = sample.suppressed > 0 ? { suppressedSimilar: sample.suppressed } : {};
    // A busy or stopping node answers 503 on purpose: one short line, not a stack per shed request.
    if (e.status === 503) request.log.warn({ code: e.code, url: request.url.split("?")[0], ...more }, e.message);
    else if (e.status >= 500) request.log.error({ err, ...more }, "request failed");
    // Refusals are the client's business (a 401 on every logged-out page load): debug, like the access log.
    else request.log.debug({ code: e.code, reason: e.message, ...more }, "request refused");
  }
  if (e.status === 429 || e.status === 503) {
    const retry = e.details?.retryAfterSeconds;
    void reply.header("retry-after", String(typeof retry === "number" ? Math.ceil(retry) : 1));
  }
  void reply.code(e.status);
  return e;
}

/** Turns fastify's own errors (validation, body parsing, limits) into catalog errors. */
export function toSovereignError(err: FastifyError | SovereignError | Error): SovereignError {
  if (err instanceof SovereignError) return err;
  const fe = err as FastifyError;
  if (fe.validation) return new SovereignError("BAD_REQUEST", fe.message, { details: { validation: fe.validation } });
  switch (fe.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new SovereignError("INVALID_JSON", fe.message);
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new SovereignError("BODY_TOO_LARGE", fe.message);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new SovereignError("UNSUPPORTED_MEDIA_TYPE", fe.message);
  }
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    if (fe.statusCode === 429) return new SovereignError("RATE_LIMITED", fe.message);
    if (fe.statusCode === 404) return new SovereignError("NOT_FOUND", fe.message);
    if (fe.statusCode === 405) return new SovereignError("METHOD_NOT_ALLOWED", fe.message);
    if (fe.statusCode === 413) return new SovereignError("BODY_TOO_LARGE", fe.message);
    if (fe.statusCode === 415) return new SovereignError("UNSUPPORTED_MEDIA_TYPE", fe.message);
    if (fe.statusCode === 401) return new SovereignError("UNAUTHENTICATED", fe.message);
    if (fe.statusCode === 403) return new SovereignError("FORBIDDEN", fe.message);
    return new SovereignError("BAD_REQUEST", fe.message);
  }
  if (fe.statusCode === 503) return new SovereignError("SERVICE_UNAVAILABLE", fe.message);
  return new SovereignError("INTERNAL", "Internal error; see the node's log for this request id.", { cause: err });
}
