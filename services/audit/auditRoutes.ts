import type { FastifyInstance } from "fastify";
import { requireAdmin } from "./requireAdmin.js";

const eventSchema = {
  type: "object",
  properties: {
    seq: { type: "integer" },
    ts: { type: "string" },
    type: { type: "string" },
    actor: { type: ["string", "null"] },
    subject: { type: ["string", "null"] },
    details: { type: "object", additionalProperties: true },
    prevHash: { type: "string" },
    hash: { type: "string" },
  },
} as const;

/** /api/audit: read the log, its checkpoints and a verification report. Admins only. */
export async function auditRoutes(app: FastifyInstance): Promise<void> {
  app.addHook("preHandler", requireAdmin);

  app.get<{ Querystring: { before?: string; limit?: string; type?: string } }>(
    "/api/audit",
    {
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            before: { type: "string", pattern: "^[1-9][0-9]{0,15}$" },
            limit: { type: "string", pattern: "^[1-9][0-9]{0,2}$" },
            type: { type: "string", maxLength: 64, pattern: "^[a-z][a-z0-9_.]*$" },
          },
        },
        response: { 200: { type: "object", properties: { events: { type: "array", items: eventSchema }, head: { type: "object", additionalProperties: true } } } },
      },
    },
    async (req) => {
      const q = req.query;
      const events = app.audit.list({
        ...(q.before ? { before: Number(q.before) } : {}),
        ...(q.limit ? { limit: Number(q.limit) } : {}),
        ...(q.type ? { type: q.type } : {}),
      });
      return { events, head: app.audit.head() };
    },
  );

  app.get<{ Querystring: { limit?: string } }>(
    "/api/audit/checkpoints",
    {
      schema: {
        querystring: { type: "object", additionalProperties: false, properties: { limit: { type: "string", pattern: "^[1-9][0-9]{0,3}$" } } },
      },
    },
    async (req) => ({ checkpoints: app.audit.checkpoints(Number(req.query.limit ?? 100)), nodeId: app.identity.nodeId, publicKey: app.identity.publicKeyBase64 }),
  );

  app.get("/api/audit/verify", async () => app.audit.verify());
}
