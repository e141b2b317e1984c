import type { FastifyInstance } from "fastify";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import { passwordAcceptable } from "../passwords.js";
import { requirePrincipal } from "../principal.js";
import type { Role } from "../scopes.js";
import { schemas, userView } from "./views.js";

/** Admins manage users. Disabling, demoting or deleting someone ends their sessions at once. */
export async function userRoutes(app: FastifyInstance): Promise<void> {
  const admin = { scope: "admin" as const };

  app.get("/api/users", { config: admin }, async () => ({ users: app.auth.users.list().map(userView) }));

  app.get<{ Params: { id: string } }>("/api/users/:id", { config: admin, schema: { params: schemas.idParams } }, async (request) => {
    const u = app.auth.users.get(request.params.id);
    if (!u) throw new SovereignError("USER_NOT_FOUND");
    return userView(u);
  });

  app.post<{ Body: { username: string; password: string; role: Role } }>(
    "/api/users",
    {
      config: admin,
      schema: {
        body: { type: "object", required: ["username", "password", "role"], additionalProperties: false, properties: { username: schemas.username, password: schemas.password, role: schemas.role } },
      },
    },
    async (request, reply) => {
      const p = requirePrincipal(request);
      const hash = await app.auth.hashPassword(request.body.password);
      const u = app.auth.users.create(request.body.username, hash, request.body.role);
      app.auth.audit({ type: "auth.user_created", actor: p.userId, subject: u.id, details: { username: u.username, role: u.role } });
      return reply.code(201).send(userView(u));
    },
  );

  app.patch<{ Params: { id: string }; Body: { role?: Role; disabled?: boolean; password?: string; tokensPerHour?: number | null; tokensPerDay?: number | null } }>(
    "/api/users/:id",
    {
      config: admin,
      schema: {
        params: schemas.idParams,
        body: {
          type: "object",
          additionalProperties: false,
          properties: { role: schemas.role, disabled: { type: "boolean" }, password: schemas.password, tokensPerHour: schemas.limit, tokensPerDay: schemas.limit },
        },
      },
    },
    async (request) => {
      const p = requirePrincipal(request);
      const { password, ...changes } = request.body;
      // Refuse a weak password before anything else changes.
      if (password !== undefined && !passwordAcceptable(password)) throw new SovereignError("PASSWORD_WEAK");
      const before = app.auth.users.get(request.params.id);
      if (!before) throw new SovereignError("USER_NOT_FOUND");
      const u = app.auth.users.update(before.id, changes);
      if (u.disabled || u.role !== before.role) app.auth.sessions.revokeAllOf(u.id);
      if (password !== undefined) await app.auth.resetPassword(u.id, password, p.userId);
      app.auth.audit({
        type: "auth.user_updated",
        actor: p.userId,
        subject: u.id,
        details: { username: u.username, ...changes, ...(password !== undefined ? { passwordReset: true } : {}) },
      });
      return userView(u);
    },
  );

  app.delete<{ Params: { id: string } }>("/api/users/:id", { config: admin, schema: { params: schemas.idParams } }, async (request) => {
    const p = requirePrincipal(request);
    const u = app.auth.users.delete(request.params.id);
    app.auth.audit({ type: "auth.user_deleted", actor: p.userId, subject: u.id, details: { username: u.username } });
    return { ok: true };
  });
}
