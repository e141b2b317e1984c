import type { FastifyInstance, FastifyRequest } from "fastify";

interface AuthLike {
  principalFromSession?(secret: string): object;
  principalFromApiKey?(secret: string): object;
}

/**
 * A check that the credential which opened a long-lived stream is still good
 * (not logged out, revoked or expired), using the auth service when present.
 * Duck-typed: this service does not import auth's files.
 */
export function streamCredential(app: FastifyInstance, request: FastifyRequest): () => boolean {
  if (!app.hasDecorator("auth")) return () => true;
  const auth = (app as unknown as { auth: AuthLike }).auth;
  const cookies = (request as unknown as { cookies?: Record<string, string | undefined> }).cookies;
  const session = cookies?.sovereign_session;
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
  if (bearer && auth.principalFromApiKey) return () => "principal" in auth.principalFromApiKey!(bearer);
  if (session && auth.principalFromSession) return () => "principal" in auth.principalFromSession!(session);
  // Whatever let the request in cannot be re-checked here; the connect-time check stands.
  return () => true;
}
