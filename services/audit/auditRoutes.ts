import type { FastifyInstance } from "fastify";

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

/** Who the ids in events are: the auth service's users and keys, which it hands to `app.audit.useNames` (auth loads after audit). */
export interface AuditNames {
  users: { get(id: string): { username: string } | undefined; byName(name: string): { id: string } | undefined };
  keys: { get(id: string): { name: string } | undefined };
}

/**
 * Names for the ids in these events (users and API keys), through the auth
 * service's own lookups, so that the panel shows "admin" instead of a UUID.
 * An id that no longer resolves (a deleted user) is left out and shown as is.
 */
function namesFor(auth: AuditNames | undefined, events: ReadonlyArray<{ actor: string | null; subject: string | null }>): Record<string, string> {
  const names: Record<string, string> = {};
  if (!auth) return names;
  for (const id of new Set(events.flatMap((e) => [e.actor, e.subject]))) {
    if (!id || id in names) continue;
    const user = auth.users.get(id);
    if (user) {
      names[id] = user.username;
      continue;
    }
    const keyId = id.startsWith("key:") ? id.slice(4) : id;
    const key = auth.keys.get(keyId);
    if (key) names[id] = `key "${key.name}"`;
  }
  return names;
}

/** /api/audit: read the log, its checkpoints and a verification report. Admins only: the auth service's hook checks the "admin" scope. */
export async function auditRoutes(app: FastifyInstance, opts: { names: () => AuditNames | undefined }): Promise<void> {
  const config = { scope: "admin" as const };

  app.get<{ Querystring: { before?: string; limit?: string; type?: string; actor?: string } }>(
    "/api/audit",
    {
      config,
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            before: { type: "string", pattern: "^[1-9][0-9]{0,15}$" },
            limit: { type: "string", pattern: "^[1-9][0-9]{0,2}$" },
            type: { type: "string", maxLength: 64, pattern: "^[a-z][a-z0-9_.]*$" },
            actor: { type: "string", minLength: 1, maxLength: 128 },
          },
        },
        response: {
          200: {
            type: "object",
            properties: { events: { type: "array", items: eventSchema }, head: { type: "object", additionalProperties: true }, names: { type: "object", additionalProperties: { type: "string" } } },
          },
        },
      },
    },
    async (req) => {
      const q = req.query;
      const auth = opts.names();
      // "By user" takes a user name or an id; a name is looked up in the auth service.
      const actor = q.actor ? (auth?.users.byName(q.actor)?.id ?? q.actor) : undefined;
      const events = app.audit.list({
        ...(q.before ? { before: Number(q.before) } : {}),
        ...(q.limit ? { limit: Number(q.limit) } : {}),
        ...(q.type ? { type: q.type } : {}),
        ...(actor ? { actor } : {}),
      });
      return { events, head: app.audit.head(), names: namesFor(auth, events) };
    },
  );

  app.get<{ Querystring: { limit?: string } }>(
    "/api/audit/checkpoints",
    {
      config,
      schema: {
        querystring: { type: "object", additionalProperties: false, properties: { limit: { type: "string", pattern: "^[1-9][0-9]{0,3}$" } } },
      },
    },
    async (req) => ({ checkpoints: app.audit.checkpoints(Number(req.query.limit ?? 100)), nodeId: app.identity.nodeId, publicKey: app.identity.publicKeyBase64, schedule: app.audit.schedule() }),
  );

  app.get("/api/audit/types", { config }, async () => ({ types: app.audit.types() }));

  app.get("/api/audit/verify", { config }, async () => app.audit.verify());
}
