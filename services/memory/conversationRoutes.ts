import type { FastifyPluginAsync } from "fastify";
import type { ConversationSettings } from "./ConversationStore.js";
import type { MemoryService } from "./MemoryService.js";
import { checkText } from "./text.js";
import { userIdOf } from "./userId.js";

const chat = { scope: "chat" as const };
const idParams = { type: "object", required: ["id"], properties: { id: { type: "string", minLength: 1, maxLength: 64 } } } as const;
const messageParams = {
  type: "object",
  required: ["id", "messageId"],
  properties: { id: { type: "string", minLength: 1, maxLength: 64 }, messageId: { type: "string", pattern: "^[0-9]{1,15}$" } },
} as const;
/** The panel's per-conversation choices, checked here so a stored value is always one the chat API accepts. */
const settingsSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    model: { type: "string", minLength: 1, maxLength: 128 },
    system: { type: "string", maxLength: 20_000 },
    temperature: { type: "number", minimum: 0, maximum: 2 },
    maxTokens: { type: "integer", minimum: 1, maximum: 131_072 },
    attachments: {
      type: "array",
      maxItems: 50,
      items: {
        type: "object",
        required: ["name", "documentId", "chunks"],
        additionalProperties: false,
        properties: { name: { type: "string", minLength: 1, maxLength: 200 }, documentId: { type: "string", minLength: 1, maxLength: 64 }, chunks: { type: "integer", minimum: 0 } },
      },
    },
  },
} as const;

/** /api/conversations: list (and search), create, read, rename and settings, delete, export, append, cut, edit. */
export const conversationRoutes: FastifyPluginAsync<{ memory: MemoryService; maxDocumentBytes: number }> = async (app, { memory, maxDocumentBytes }) => {
  const conversations = memory.conversations;

  app.get<{ Querystring: { limit?: string; before?: string; q?: string } }>(
    "/api/conversations",
    { config: chat, schema: { querystring: { type: "object", properties: { limit: { type: "string" }, before: { type: "string" }, q: { type: "string", maxLength: 200 } } } } },
    async (request) => {
      const q = request.query;
      return {
        conversations: conversations.list(userIdOf(request), {
          ...(q.limit && /^\d{1,3}$/.test(q.limit) ? { limit: Number(q.limit) } : {}),
          ...(q.before ? { before: q.before } : {}),
          ...(q.q ? { q: q.q } : {}),
        }),
      };
    },
  );

  app.post<{ Body: { title?: string; settings?: ConversationSettings } | undefined }>(
    "/api/conversations",
    { config: chat, schema: { body: { type: ["object", "null"], properties: { title: { type: "string", maxLength: 500 }, settings: settingsSchema }, additionalProperties: false } } },
    async (request, reply) =>
      reply.code(201).send({ conversation: conversations.create(userIdOf(request), request.body?.title, request.body?.settings ? { settings: request.body.settings } : {}) }),
  );

  app.get<{ Params: { id: string } }>("/api/conversations/:id", { config: chat, schema: { params: idParams } }, async (request) => {
    const userId = userIdOf(request);
    return { conversation: conversations.require(userId, request.params.id), messages: conversations.messages(userId, request.params.id) };
  });

  app.patch<{ Params: { id: string }; Body: { title?: string; settings?: ConversationSettings } }>(
    "/api/conversations/:id",
    {
      config: chat,
      schema: {
        params: idParams,
        body: { type: "object", minProperties: 1, properties: { title: { type: "string", minLength: 1, maxLength: 500 }, settings: settingsSchema }, additionalProperties: false },
      },
    },
    async (request) => ({ conversation: conversations.update(userIdOf(request), request.params.id, request.body) }),
  );

  // Regenerate and edit-and-resend: the panel cuts the conversation at a message, then sends the turn again.
  app.delete<{ Params: { id: string }; Querystring: { from: string } }>(
    "/api/conversations/:id/messages",
    { config: chat, schema: { params: idParams, querystring: { type: "object", required: ["from"], properties: { from: { type: "string", pattern: "^[0-9]{1,15}$" } } } } },
    async (request) => ({ deleted: conversations.truncate(userIdOf(request), request.params.id, Number(request.query.from)) }),
  );

  // Continue: the panel asks the model to go on with an answer, then stores the longer text in its place.
  app.patch<{ Params: { id: string; messageId: string }; Body: { content: string; finishReason?: "stop" | "length" } }>(
    "/api/conversations/:id/messages/:messageId",
    {
      config: chat,
      schema: {
        params: messageParams,
        body: {
          type: "object",
          required: ["content"],
          properties: { content: { type: "string", minLength: 1 }, finishReason: { type: "string", enum: ["stop", "length"] } },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const b = request.body;
      checkText(b.content, maxDocumentBytes, "message", { keepNul: true });
      return { message: conversations.editMessage(userIdOf(request), request.params.id, Number(request.params.messageId), b.content, b.finishReason ? { finishReason: b.finishReason } : {}) };
    },
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
      for (const m of request.body.messages) checkText(m.content, maxDocumentBytes, "message", { keepNul: true });
      return reply.code(201).send({ messages: conversations.append(userIdOf(request), request.params.id, request.body.messages) });
    },
  );
};
