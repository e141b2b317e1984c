import type { FastifyInstance, FastifyRequest } from "fastify";
import { SovereignError } from "../errors/SovereignError.js";
import { checkJsonTextDepth } from "../json/jsonDepth.js";

type Done = (err: Error | null, body?: unknown) => void;

/**
 * fastify's own JSON parser (prototype poisoning refused), behind the depth
 * check: a body nested past MAX_JSON_DEPTH is refused (400 JSON_TOO_DEEP)
 * before it is parsed, so no schema check, handler or JSON.stringify ever
 * walks thousands of levels. fastify's messages say "content-type is set to
 * 'application/json'", which misleads where a scope parses other types as JSON
 * (the Ollama routes), so bad and empty bodies get messages of their own.
 */
export function jsonBodyParser(app: FastifyInstance): (request: FastifyRequest, body: string | Buffer, done: Done) => void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  return (request, body, done) => {
    try {
      checkJsonTextDepth(body as string);
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    parseJson(request, body as string, (err, parsed) => {
      const code = (err as { code?: string } | null)?.code;
      if (code === "FST_ERR_CTP_EMPTY_JSON_BODY") done(new SovereignError("INVALID_JSON", "The request body is empty; this route takes a JSON document."));
      else if (code === "FST_ERR_CTP_INVALID_JSON_BODY") done(new SovereignError("INVALID_JSON", "The request body is not valid JSON."));
      else done(err, parsed);
    });
  };
}
