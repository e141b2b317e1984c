import type { FastifyInstance } from "fastify";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import { clearSessionCookies, SESSION_COOKIE, setSessionCookies } from "../cookies.js";
import { requirePrincipal } from "../principal.js";
import { schemas } from "./views.js";

/** Login, logout, who am I, and password change. */
export async function sessionRoutes(app: FastifyInstance): Promise<void> {
  const cookieMode = app.config["auth.secureCookies"];

  app.post<{ Body: { username: string; password: string } }>(
    "/api/auth/login",
    {
      config: { access: "public" },
      schema: {
        body: { type: "object", required: ["username", "password"], additionalProperties: false, properties: { username: { type: "string", minLength: 1, maxLength: 64 }, password: schemas.password } },
      },
    },
    async (request, reply) => {
      const { user, secret, session } = await app.auth.login(request.body.username, request.body.password, {
        ip: request.ip,
        userAgent: request.headers["user-agent"],
      });
      // Rotation: whatever session the browser held before is ended, never upgraded.
      if (request.authSession) app.auth.sessions.revoke(request.authSession.id);
      else if (request.cookies[SESSION_COOKIE]) {
        const old = app.auth.principalFromSession(request.cookies[SESSION_COOKIE]);
        if ("session" in old) app.auth.sessions.revoke(old.session.id);
      }
      setSessionCookies(request, reply, secret, session, cookieMode);
      return {
        user: { id: user.id, username: user.username, role: user.role },
        csrfToken: session.csrfToken,
        expiresAt: new Date(session.expiresAt).toISOString(),
      };
    },
  );

  app.post("/api/auth/logout", async (request, reply) => {
    const p = requirePrincipal(request);
    if (request.authSession) app.auth.logout({ id: request.authSession.id, userId: p.userId });
    clearSessionCookies(request, reply, cookieMode);
    return { ok: true };
  });

  app.get("/api/auth/me", async (request) => {
    const p = requirePrincipal(request);
    const s = request.authSession;
    return {
      kind: p.kind,
      userId: p.userId,
      username: p.username,
      role: p.role,
      scopes: p.scopes,
      ...(p.keyId ? { keyId: p.keyId } : {}),
      ...(s ? { csrfToken: s.csrfToken, expiresAt: new Date(s.expiresAt).toISOString() } : {}),
    };
  });

  app.post<{ Body: { currentPassword: string; newPassword: string } }>(
    "/api/auth/password",
    {
      config: { keyScope: "never" },
      schema: {
        body: { type: "object", required: ["currentPassword", "newPassword"], additionalProperties: false, properties: { currentPassword: schemas.password, newPassword: schemas.password } },
      },
    },
    async (request, reply) => {
      const p = requirePrincipal(request);
      if (p.kind !== "user" || !request.authSession) throw new SovereignError("FORBIDDEN", "Change a password from a logged-in session, not with an API key.");
      await app.auth.changePassword(p.userId, request.body.currentPassword, request.body.newPassword, request.authSession.id);
      // Rotate this session too: a stolen copy of the old cookie stops working.
      app.auth.sessions.revoke(request.authSession.id);
      const { secret, session } = app.auth.sessions.create(p.userId, { ip: request.ip, userAgent: request.headers["user-agent"] });
      setSessionCookies(request, reply, secret, session, cookieMode);
      return { ok: true, csrfToken: session.csrfToken };
    },
  );
}
