import type { FastifyInstance } from "fastify";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import { canActFor, requirePrincipal as manager } from "../principal.js";
import { roleScopes, scopes as allScopes, type Scope } from "../scopes.js";
import { keyView, schemas } from "./views.js";

/** Keys are managed from any logged-in session, or by a key that itself holds "admin" (a "chat" key mints no keys). */
const config = { keyScope: "admin" as const };

/** API keys: created (the secret is in that one response), listed, revoked. */
export async function keyRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: { all?: boolean } }>(
    "/api/keys",
    { config, schema: { querystring: { type: "object", additionalProperties: false, properties: { all: { type: "string", enum: ["true", "false"] } } } } },
    async (request) => {
      const p = manager(request);
      const all = String(request.query.all) === "true" && p.scopes.includes("admin");
      return { keys: app.auth.keys.list(all ? undefined : p.userId).map((k) => keyView(k)) };
    },
  );

  app.post<{ Body: { name: string; scopes: Scope[]; expiresInDays?: number | null; userId?: string; tokensPerHour?: number | null; tokensPerDay?: number | null } }>(
    "/api/keys",
    {
      config,
      schema: {
        body: {
          type: "object",
          required: ["name", "scopes"],
          additionalProperties: false,
          properties: {
            name: { type: "string", minLength: 1, maxLength: 64 },
            scopes: { type: "array", minItems: 1, maxItems: allScopes.length, uniqueItems: true, items: { type: "string", enum: [...allScopes] } },
            expiresInDays: { anyOf: [{ type: "integer", minimum: 1, maximum: 3650 }, { type: "null" }] },
            userId: { type: "string", maxLength: 64 },
            tokensPerHour: schemas.limit,
            tokensPerDay: schemas.limit,
          },
        },
      },
    },
    async (request, reply) => {
      const p = manager(request);
      const b = request.body;
      const isAdmin = p.scopes.includes("admin");
      const ownerId = b.userId ?? p.userId;
      if (!canActFor(p, ownerId)) throw new SovereignError("FORBIDDEN", "Only an admin creates keys for someone else.");
      const owner = app.auth.users.get(ownerId);
      if (!owner) throw new SovereignError("USER_NOT_FOUND");
      // A key never holds more than its owner's role grants.
      const beyond = b.scopes.filter((s) => !roleScopes[owner.role].includes(s));
      if (beyond.length > 0) throw new SovereignError("INSUFFICIENT_SCOPE", `The ${owner.role} role cannot hold: ${beyond.join(", ")}.`, { details: { scopes: beyond } });
      if (!isAdmin && (b.tokensPerHour != null || b.tokensPerDay != null)) throw new SovereignError("FORBIDDEN", "Only an admin sets key quotas.");
      const expiresAt = b.expiresInDays == null ? null : Date.now() + b.expiresInDays * 86_400_000;
      const { secret, key } = app.auth.keys.create({ userId: owner.id, name: b.name, scopes: b.scopes, expiresAt, tokensPerHour: b.tokensPerHour ?? null, tokensPerDay: b.tokensPerDay ?? null });
      app.auth.audit({ type: "auth.key_created", actor: p.userId, subject: key.id, details: { owner: owner.id, name: key.name, scopes: key.scopes, expiresAt: key.expiresAt } });
      reply.header("cache-control", "no-store");
      return reply.code(201).send({ ...keyView(key), key: secret, note: "This is the only time the key is shown; store it now." });
    },
  );

  app.delete<{ Params: { id: string } }>("/api/keys/:id", { config, schema: { params: schemas.idParams } }, async (request) => {
    const p = manager(request);
    const k = app.auth.keys.get(request.params.id);
    if (!k || !canActFor(p, k.userId)) throw new SovereignError("API_KEY_NOT_FOUND");
    const revoked = app.auth.keys.revoke(k.id);
    app.auth.audit({ type: "auth.key_revoked", actor: p.userId, subject: k.id, details: { owner: k.userId, name: k.name } });
    return keyView(revoked);
  });
}
