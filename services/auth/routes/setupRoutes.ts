import type { FastifyInstance } from "fastify";
import { setSessionCookies } from "../cookies.js";
import { schemas, userView } from "./views.js";

/** First-run setup: whether the node is claimed, and the one-time claim. */
export async function setupRoutes(app: FastifyInstance): Promise<void> {
  app.get("/api/setup/status", { config: { access: "public" } }, async () => ({ claimed: app.auth.isClaimed() }));

  app.post<{ Body: { code: string; username: string; password: string } }>(
    "/api/setup/claim",
    {
      config: { access: "setup" },
      schema: {
        body: {
          type: "object",
          required: ["code", "username", "password"],
          additionalProperties: false,
          properties: { code: { type: "string", minLength: 1, maxLength: 128 }, username: schemas.username, password: schemas.password },
        },
      },
    },
    async (request, reply) => {
      const { code, username, password } = request.body;
      const client = { ip: request.ip, userAgent: request.headers["user-agent"] };
      const user = await app.auth.claim(code, username, password, client);
      // The new admin is logged in straight away.
      const { secret, session } = app.auth.sessions.create(user.id, client);
      setSessionCookies(request, reply, secret, session, app.config["auth.secureCookies"]);
      return reply.code(201).send({ user: userView(user), csrfToken: session.csrfToken, expiresAt: new Date(session.expiresAt).toISOString() });
    },
  );
}
