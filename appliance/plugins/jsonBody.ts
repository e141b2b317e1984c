import fp from "fastify-plugin";
import { checkJsonTextDepth } from "../../core/json/jsonDepth.js";

/**
 * Infrastructure: every application/json body is refused past MAX_JSON_DEPTH
 * (400 JSON_TOO_DEEP) before it is parsed, so no schema check, handler or
 * JSON.stringify ever walks thousands of levels (those overflowed the stack
 * into a 500). Registered before the services, whose scopes inherit it.
 */
export const jsonBodyPlugin = fp(
  async (app) => {
    // fastify's own parser, with prototype poisoning refused as before.
    const parseJson = app.getDefaultJsonParser("error", "error");
    app.removeContentTypeParser("application/json");
    app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
      try {
        checkJsonTextDepth(body as string);
      } catch (err) {
        done(err as Error, undefined);
        return;
      }
      parseJson(request, body as string, done);
    });
  },
  { name: "sovereign-json-body" },
);
