import fp from "fastify-plugin";
import { federationOf } from "../federation/federationOf.js";
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
 * It needs inference (generation), memory (conversations, RAG) and audit
 * (offloaded turns); federation is optional and only ever read through its
 * accessor, per turn, since it loads after chat.
 */
export const chatPlugin = fp(
  async (app) => {
    const chat = new ChatService({
      inference: app.inference, memory: app.memory, ragTokenBudget: app.config["memory.ragTokenBudget"],
      offload: () => (app.config["federation.offload.enabled"] ? (federationOf(app)?.offload ?? null) : null),
      audit: (e) => app.audit.record(e),
      log: app.log,
    });
    app.decorate("chat", chat);
    await app.register(chatRoutes, { prefix: "/v1", chat });
  },
  { name: "sovereign-chat", dependencies: ["sovereign-context", "sovereign-audit", "sovereign-auth", "sovereign-inference", "sovereign-memory"] },
);
