import type { FastifyPluginAsync } from "fastify";
import type { MemoryService } from "./MemoryService.js";
import { checkText } from "./text.js";
import { userIdOf } from "./userId.js";

const chat = { scope: "chat" as const };
const idParams = { type: "object", required: ["id"], properties: { id: { type: "string", minLength: 1, maxLength: 64 } } } as const;

/** /api/conversations: list, create, read, rename, delete, export, append. */
export const conversationRoutes: FastifyPluginAsync<{ memory: MemoryService; maxDocumentBytes: number }> = async (app, { memory, maxDocumentBytes }) => {
  const conversations = memory.conversations;

  app.get<{ Querystring: { limit?: string; before?: string } }>("/api/conversations", { config: chat }, async (request) => {
    const q = request.query;
    return {
      conversations: conversations.list(userIdOf(request), {
        ...(q.limit && /^\d{1,3}$/.test(q.limit) ? { limit: Number(q.limit) } : {}),
        ...(q.before ? { before: q.before } : {}),
      }),
    };
  });

  app.post<{ Body: { title?: string } | undefined }>(
    "/api/conversations",
    { config: chat, schema: { body: { type: ["object", "null"], properties: { title: { type: "string", maxLength: 500 } }, additionalProperties: false } } },
    async (request, reply) => reply.code(201).send({ conversation: conversations.create(userIdOf(request), request.body?.title) }),
  );

  app.get<{ Params: { id: string } }>("/api/conversations/:id", { config: chat, schema: { params: idParams } }, async (request) => {
    const userId = userIdOf(request);
    return { conversation: conversations.require(userId, request.params.id), messages: conversations.messages(userId, request.params.id) };
  });

  app.patch<{ Params: { id: string }; Body: { title: string } }>(
    "/api/conversations/:id",
    {
      config: chat,
      schema: {
        params: idParams,
        body: { type: "object", required: ["title"], properties: { title: { type: "string", minLength: 1, maxLength: 500 } }, additionalProperties: false },
      },
    },
    async (request) => ({ conversation: conversations.rename(userIdOf(request), request.params.id, request.body.title) }),
  );

  app.delete<{ Params: { id: string } }>("/api/conversations/:id", { config: chat, schema: { params: idParams } }, async (request, reply) => {
    conversations.delete(userIdOf(request), request.params.id);
    return reply.code(204).send();
  });

  app.get<{ Params: { id: string }; Querystring: { format?: "json" | "markdown" } }>(
    "/api/conversations/:id/export",
    { config: chat, schema: { params: idParams, querystring: { type: "object", properties: { format: { type: "string", enum: ["json", "markdown"] } } } } },
    async (request, reply) => {
      const format = request.query.format ?? "json";
      const out = conversations.export(userIdOf(request), request.params.id, format);
      const ext = format === "json" ? "json" : "md";
      void reply.header("content-disposition", `attachment; filename="conversation-${request.params.id}.${ext}"`);
      if (typeof out === "string") return reply.header("content-type", "text/markdown; charset=utf-8").send(out);
      return out;
    },
  );

  app.post<{ Params: { id: string }; Body: { messages: Array<{ role: "system" | "user" | "assistant" | "tool"; content: string }> } }>(
    "/api/conversations/:id/messages",
    {
      config: chat,
      schema: {
        params: idParams,
        body: {
          type: "object",
          required: ["messages"],
          properties: {
            messages: {
              type: "array",
              minItems: 1,
              maxItems: 100,
              items: {
                type: "object",
                required: ["role", "content"],
                properties: { role: { type: "string", enum: ["system", "user", "assistant", "tool"] }, content: { type: "string" } },
                additionalProperties: false,
              },
            },
          },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      for (const m of request.body.messages) checkText(m.content, maxDocumentBytes, "message");
      return reply.code(201).send({ messages: conversations.append(userIdOf(request), request.params.id, request.body.messages) });
    },
  );
};
