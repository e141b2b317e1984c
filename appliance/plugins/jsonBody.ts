import fp from "fastify-plugin";
import { jsonBodyParser } from "../../core/http/jsonBodyParser.js";

/**
 * Infrastructure: every application/json body goes through jsonBodyParser (the
 * depth check, then fastify's parser). Registered before the services, whose
 * scopes inherit it.
 */
export const jsonBodyPlugin = fp(
  async (app) => {
    app.removeContentTypeParser("application/json");
    app.addContentTypeParser("application/json", { parseAs: "string" }, jsonBodyParser(app));
  },
  { name: "sovereign-json-body" },
);
