import type { FastifyInstance, FastifyRequest } from "fastify";

/**
 * A check that the credential which opened a long-lived stream is still good
 * (not logged out, revoked or expired), through the auth service.
 */
export function streamCredential(app: FastifyInstance, request: FastifyRequest): () => boolean {
  const auth = app.auth;
  const session = request.cookies.sovereign_session;
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
  if (bearer) return () => "principal" in auth.principalFromApiKey(bearer);
  if (session) return () => "principal" in auth.principalFromSession(session);
  // Whatever let the request in cannot be re-checked here; the connect-time check stands.
  return () => true;
}
