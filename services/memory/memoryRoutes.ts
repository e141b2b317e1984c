import type { FastifyPluginAsync } from "fastify";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { exportJsonl, importJsonl } from "./jsonl.js";
import type { MemoryService } from "./MemoryService.js";
import { tagLimits, tagsProblem, type MemoryFilters } from "./MemoryStore.js";
import { decodeUtf8 } from "./text.js";
import { userIdOf } from "./userId.js";

const read = { config: { scope: "memory:read" as const } };
const write = { config: { scope: "memory:write" as const } };
const chat = { config: { scope: "chat" as const } };
const idParams = { type: "object", required: ["id"], properties: { id: { type: "string", pattern: "^[0-9]{1,15}$" } } } as const;
const tagList = { type: "array", maxItems: tagLimits.maxTags, items: { type: "string", minLength: 1, maxLength: tagLimits.maxLength } } as const;

function checkTags(tags: unknown): void {
  const problem = tagsProblem(tags);
  if (problem) throw new SovereignError("BAD_REQUEST", `${problem[0]!.toUpperCase()}${problem.slice(1)}.`, { details: { param: "tags" } });
}

function parseTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(t)) throw new SovereignError("BAD_REQUEST", `${name} is not a time (ISO 8601 or epoch ms).`);
  return t;
}

function filtersOf(q: Record<string, string | undefined>): MemoryFilters {
  const f: MemoryFilters = {};
  if (q.tags) f.tags = q.tags.split(",").map((t) => t.trim()).filter(Boolean);
  if (q.source) f.source = q.source;
  if (q.kind) f.kind = q.kind;
  const since = parseTime(q.since, "since");
  const until = parseTime(q.until, "until");
  if (since !== undefined) f.since = since;
  if (until !== undefined) f.until = until;
  return f;
}

/** /api/memory: add, import, search, read, delete, feedback, context, short-term, episodes, export. */
export const memoryRoutes: FastifyPluginAsync<{ memory: MemoryService; maxDocumentBytes: number }> = async (app, { memory, maxDocumentBytes }) => {
  // Raw text and Markdown uploads arrive as bytes, so invalid UTF-8 is refused instead of silently replaced.
  app.addContentTypeParser(["text/plain", "text/markdown", "application/x-ndjson"], { parseAs: "buffer", bodyLimit: maxDocumentBytes + 1 }, (_req, body, done) => {
    done(null, body);
  });
  const bodyLimit = maxDocumentBytes * 2 + 65_536;

  app.post<{ Body: unknown; Querystring: Record<string, string | undefined> }>("/api/memory", { ...write, bodyLimit }, async (request, reply) => {
    const userId = userIdOf(request);
    const q = request.query;
    let input: { text: string; source?: string; title?: string; tags?: string[]; importance?: number };
    if (Buffer.isBuffer(request.body)) {
      if (request.body.length > maxDocumentBytes) throw new SovereignError("MEMORY_DOCUMENT_TOO_LARGE", `The document is ${request.body.length} bytes; the limit is ${maxDocumentBytes}.`);
      input = { text: decodeUtf8(request.body) };
      if (q.source) input.source = q.source;
      if (q.tags) input.tags = q.tags.split(",").filter((t) => t.trim() !== "");
      if (input.tags) checkTags(input.tags);
    } else {
      const b = request.body as Record<string, unknown> | null;
      if (!b || typeof b.text !== "string") throw new SovereignError("BAD_REQUEST", "Send {\"text\": \"...\"} as JSON, or the document itself as text/plain or text/markdown.");
      if (b.tags !== undefined) checkTags(b.tags);
      if (b.importance !== undefined && (typeof b.importance !== "number" || b.importance < 0 || b.importance > 1)) throw new SovereignError("BAD_REQUEST", "importance must be a number from 0 to 1.");
      input = { text: b.text };
      if (typeof b.source === "string") input.source = b.source;
      if (typeof b.title === "string") input.title = b.title;
      if (Array.isArray(b.tags)) input.tags = b.tags as string[];
      if (typeof b.importance === "number") input.importance = b.importance;
    }
    return reply.code(201).send(memory.add(userId, input));
  });

  app.get<{ Querystring: Record<string, string | undefined> }>(
    "/api/memory/search",
    {
      ...read,
      schema: {
        querystring: {
          type: "object",
          properties: {
            q: { type: "string", maxLength: 4000 },
            limit: { type: "string", pattern: "^[0-9]{1,3}$" },
            mode: { type: "string", enum: ["hybrid", "fts", "vector"] },
            tags: { type: "string", maxLength: 2000 },
            source: { type: "string", maxLength: 200 },
            kind: { type: "string", maxLength: 64 },
            since: { type: "string", maxLength: 40 },
            until: { type: "string", maxLength: 40 },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const result = await memory.search(userIdOf(request), q.q ?? "", {
        ...filtersOf(q),
        ...(q.limit ? { limit: Number(q.limit) } : {}),
        ...(q.mode ? { mode: q.mode as "hybrid" | "fts" | "vector" } : {}),
      });
      return result;
    },
  );

  app.get<{ Querystring: Record<string, string | undefined> }>("/api/memory", read, async (request) => {
    const q = request.query;
    const limit = q.limit && /^\d{1,3}$/.test(q.limit) ? Number(q.limit) : 50;
    const beforeId = q.beforeId && /^\d{1,15}$/.test(q.beforeId) ? Number(q.beforeId) : undefined;
    return { memories: memory.store.list(userIdOf(request), { ...filtersOf(q), limit, ...(beforeId !== undefined ? { beforeId } : {}) }), stats: memory.stats(userIdOf(request)) };
  });

  app.get<{ Params: { id: string } }>("/api/memory/:id", { ...read, schema: { params: idParams } }, async (request) => ({
    memory: memory.get(userIdOf(request), Number(request.params.id)),
  }));

  app.patch<{ Params: { id: string }; Body: { tags?: string[]; importance?: number } }>(
    "/api/memory/:id",
    {
      ...write,
      schema: {
        params: idParams,
        body: { type: "object", properties: { tags: tagList, importance: { type: "number", minimum: 0, maximum: 1 } }, additionalProperties: false },
      },
    },
    async (request) => {
      const userId = userIdOf(request);
      if (!memory.store.update(userId, Number(request.params.id), request.body)) throw new SovereignError("MEMORY_NOT_FOUND", `No memory ${request.params.id}.`);
      return { memory: memory.get(userId, Number(request.params.id)) };
    },
  );

  app.delete<{ Params: { id: string } }>("/api/memory/:id", { ...write, schema: { params: idParams } }, async (request, reply) => {
    memory.delete(userIdOf(request), Number(request.params.id));
    return reply.code(204).send();
  });

  // An answer from the chat is named by the ids the chat returned (sovereign.conversation_id and
  // sovereign.assistant_message_id): question and answer are then read from the conversation.
  app.post<{ Body: { question?: string; answer?: string; rating: "up" | "down"; correction?: string; conversationId?: string; messageId?: number } }>(
    "/api/memory/feedback",
    {
      ...chat,
      schema: {
        body: {
          type: "object",
          required: ["rating"],
          anyOf: [{ required: ["question", "answer"] }, { required: ["conversationId", "messageId"] }],
          properties: {
            question: { type: "string", minLength: 1 },
            answer: { type: "string" },
            rating: { type: "string", enum: ["up", "down"] },
            correction: { type: "string" },
            conversationId: { type: "string", maxLength: 64 },
            messageId: { type: "integer", minimum: 1 },
          },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => reply.code(201).send(memory.feedback(userIdOf(request), request.body)),
  );

  app.post<{ Body: { query: string; tokenBudget?: number } }>(
    "/api/memory/context",
    {
      ...chat,
      schema: {
        body: {
          type: "object",
          required: ["query"],
          properties: { query: { type: "string", maxLength: 20_000 }, tokenBudget: { type: "integer", minimum: 1, maximum: 100_000 } },
          additionalProperties: false,
        },
      },
    },
    async (request) =>
      memory.retrieveContext(request.body.query, { userId: userIdOf(request), ...(request.body.tokenBudget ? { tokenBudget: request.body.tokenBudget } : {}) }),
  );

  const sessionParams = { type: "object", required: ["sessionId"], properties: { sessionId: { type: "string", minLength: 1, maxLength: 128 } } } as const;
  app.get<{ Params: { sessionId: string } }>("/api/memory/short-term/:sessionId", { ...chat, schema: { params: sessionParams } }, async (request) => ({
    entries: memory.shortTerm.get(userIdOf(request), request.params.sessionId),
  }));
  app.put<{ Params: { sessionId: string }; Body: { key: string; value: unknown; ttlMinutes?: number } }>(
    "/api/memory/short-term/:sessionId",
    {
      ...chat,
      schema: {
        params: sessionParams,
        body: {
          type: "object",
          required: ["key", "value"],
          properties: { key: { type: "string", minLength: 1, maxLength: 128 }, value: {}, ttlMinutes: { type: "integer", minimum: 1, maximum: 10_080 } },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const b = request.body;
      memory.shortTerm.set(userIdOf(request), request.params.sessionId, b.key, b.value, ...(b.ttlMinutes ? [b.ttlMinutes * 60_000] : []));
      return { entries: memory.shortTerm.get(userIdOf(request), request.params.sessionId) };
    },
  );
  app.delete<{ Params: { sessionId: string } }>("/api/memory/short-term/:sessionId", { ...chat, schema: { params: sessionParams } }, async (request, reply) => {
    memory.shortTerm.clear(userIdOf(request), request.params.sessionId);
    return reply.code(204).send();
  });

  app.get<{ Querystring: { kind?: string; limit?: string } }>("/api/memory/episodes", read, async (request) => ({
    episodes: memory.episodes.list({
      userId: userIdOf(request),
      ...(request.query.kind ? { kind: request.query.kind } : {}),
      ...(request.query.limit && /^\d{1,4}$/.test(request.query.limit) ? { limit: Number(request.query.limit) } : {}),
    }),
  }));

  app.get("/api/memory/export", read, async (request, reply) => {
    const lines = [...exportJsonl(memory.db, userIdOf(request))];
    return reply
      .header("content-type", "application/x-ndjson; charset=utf-8")
      .header("content-disposition", 'attachment; filename="sovereign-memory.jsonl"')
      .send(`${lines.join("\n")}\n`);
  });

  app.post("/api/memory/import", { ...write, bodyLimit }, async (request) => {
    if (!Buffer.isBuffer(request.body)) throw new SovereignError("UNSUPPORTED_MEDIA_TYPE", "Send the export as application/x-ndjson.");
    const result = importJsonl(memory.db, decodeUtf8(request.body, "import"), { asUser: userIdOf(request) });
    memory.vectors.kick();
    memory.episodes.record("import", `imported ${result.memories} memories and ${result.conversations} conversations`, result, userIdOf(request));
    return result;
  });
};
