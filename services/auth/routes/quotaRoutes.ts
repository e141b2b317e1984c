import type { FastifyInstance } from "fastify";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import { requirePrincipal } from "../principal.js";
import { roleScopes } from "../scopes.js";
import { schemas } from "./views.js";

/** Token quotas: the caller's own usage; admins see everyone's and set limits. */
export async function quotaRoutes(app: FastifyInstance): Promise<void> {
  app.get("/api/quotas", async (request) => app.auth.quotaStatus(requirePrincipal(request)));

  app.get("/api/quotas/users", { config: { scope: "admin" } }, async () => ({
    users: app.auth.users.list().map((u) => ({
      userId: u.id,
      username: u.username,
      ...app.auth.quotaStatus({ kind: "user", userId: u.id, username: u.username, role: u.role, scopes: [...roleScopes[u.role]] }),
    })),
  }));

  const limitsBody = {
    type: "object",
    required: ["tokensPerHour", "tokensPerDay"],
    additionalProperties: false,
    properties: { tokensPerHour: schemas.limit, tokensPerDay: schemas.limit },
  } as const;

  app.put<{ Params: { id: string }; Body: { tokensPerHour: number | null; tokensPerDay: number | null } }>(
    "/api/quotas/users/:id",
    { config: { scope: "admin" }, schema: { params: schemas.idParams, body: limitsBody } },
    async (request) => {
      const p = requirePrincipal(request);
      const u = app.auth.users.update(request.params.id, request.body);
      app.auth.audit({ type: "auth.quota_changed", actor: p.userId, subject: u.id, details: { ...request.body } });
      return { userId: u.id, tokensPerHour: u.tokensPerHour, tokensPerDay: u.tokensPerDay };
    },
  );

  app.put<{ Params: { id: string }; Body: { tokensPerHour: number | null; tokensPerDay: number | null } }>(
    "/api/quotas/keys/:id",
    { config: { scope: "admin" }, schema: { params: schemas.idParams, body: limitsBody } },
    async (request) => {
      const p = requirePrincipal(request);
      if (!app.auth.keys.get(request.params.id)) throw new SovereignError("API_KEY_NOT_FOUND");
      const k = app.auth.keys.setQuota(request.params.id, request.body.tokensPerHour, request.body.tokensPerDay);
      app.auth.audit({ type: "auth.quota_changed", actor: p.userId, subject: k.id, details: { ...request.body } });
      return { keyId: k.id, tokensPerHour: k.tokensPerHour, tokensPerDay: k.tokensPerDay };
    },
  );
}
