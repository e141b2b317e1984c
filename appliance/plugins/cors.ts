import fp from "fastify-plugin";
import cors from "@fastify/cors";
import type { FastifyRequest } from "fastify";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { corsOriginProblem } from "../../core/http/corsOrigin.js";

/** The API routes a browser app may call cross-origin: OpenAI's and Ollama's (its own port is rewritten to /ollama). */
const API_PREFIXES = ["/v1/", "/ollama/"];

/** Headers a cross-origin page may read: which node answered, what was ignored, and when to retry. */
const EXPOSED = ["x-sovereign-served-by", "x-sovereign-ignored-options", "retry-after", "x-request-id"];

/**
 * CORS for browser apps on other origins (a hosted chat UI, a browser
 * extension), opt-in through server.corsOrigins. Only the API routes, and
 * without credentials: a cross-origin page must send an API key, and the
 * panel's session cookie never rides along, so no CSRF path opens.
 * Registered before auth, so a preflight (which carries no key) is answered
 * here instead of being refused as unauthenticated.
 */
export const corsPlugin = fp(
  async (app) => {
    const origins = app.config["server.corsOrigins"];
    for (const o of origins) {
      const problem = corsOriginProblem(o);
      if (problem) throw new SovereignError("CONFIG_INVALID", `server.corsOrigins: ${problem}.`, { details: { key: "server.corsOrigins" } });
    }
    if (origins.length === 0) return;
    const any = origins.includes("*");
    const api = (request: FastifyRequest) => API_PREFIXES.some((p) => request.url.startsWith(p));
    await app.register(cors, {
      hook: "onRequest",
      delegator: (request, callback) => {
        callback(null, {
          origin: api(request as FastifyRequest) ? (any ? "*" : [...origins]) : false,
          credentials: false,
          exposedHeaders: EXPOSED,
          methods: ["GET", "HEAD", "POST", "DELETE"],
          maxAge: 600,
        });
      },
    });
  },
  { name: "sovereign-cors", dependencies: ["sovereign-context"] },
);
