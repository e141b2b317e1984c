import fp from "fastify-plugin";
import { ChatService } from "./ChatService.js";
import { chatRoutes } from "./chatRoutes.js";
import type { ChatApi } from "./types.js";

declare module "fastify" {
  interface FastifyInstance {
    /** Chat turns with conversation history, memory context and citations (services/chat/README.md). */
    chat: ChatApi;
  }
}

/**
 * services/chat: decorates `app.chat` and serves POST /v1/chat/completions.
 * It needs inference (generation) and memory (conversations, RAG); federation
 * is optional and only ever read through its accessor.
 */
export const chatPlugin = fp(
  async (app) => {
    const chat = new ChatService({ inference: app.inference, memory: app.memory, ragTokenBudget: app.config["memory.ragTokenBudget"] });
    app.decorate("chat", chat);
    await app.register(chatRoutes, { prefix: "/v1", chat });
  },
  { name: "sovereign-chat", dependencies: ["sovereign-context", "sovereign-auth", "sovereign-inference", "sovereign-memory"] },
);
