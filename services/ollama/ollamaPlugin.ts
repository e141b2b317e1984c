import fp from "fastify-plugin";
import type { FastifyRequest } from "fastify";
import { charged, meterTokens } from "../inference/routes/openAiResponse.js";
import { removeModel } from "../inference/routes/removeModel.js";
import { ollamaRoutes } from "./ollamaRoutes.js";

function userIdOf(request: FastifyRequest): string {
  const userId = request.principal?.userId;
  return typeof userId === "string" && userId.length > 0 ? userId : "local";
}

/**
 * services/ollama: Ollama's API for the apps that speak only it (Open WebUI's
 * Ollama connection, Home Assistant, editor plugins, the `ollama` libraries).
 * Mounted under /ollama here; appliance/server.ts serves the same routes at
 * the root of `ollama.port` (11434 on images), where those clients look.
 */
export const ollamaPlugin = fp(
  async (app) => {
    await app.register(ollamaRoutes, {
      prefix: "/ollama",
      inference: app.inference,
      idleUnloadMs: app.config["inference.idleUnloadMinutes"] * 60_000,
      remove: (request, name) => removeModel(app, request, app.inference, name, "ollama"),
      generate: (request, req, _parsed, onServedBy) => {
        // Its max_tokens (num_predict) capped to what the caller's quota has left, and held until the turn ends.
        req.sampling ??= {};
        const meter = meterTokens(app, request, req.sampling);
        if (req.messages) {
          return charged(meter, app.chat.complete({ ...req, messages: req.messages, userId: userIdOf(request), onServedBy }));
        }
        onServedBy("local");
        return charged(meter, app.inference.generate({ ...req, owner: userIdOf(request) }));
      },
    });
  },
  { name: "sovereign-ollama", dependencies: ["sovereign-context", "sovereign-auth", "sovereign-audit", "sovereign-inference", "sovereign-chat"] },
);
