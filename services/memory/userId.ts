import type { FastifyRequest } from "fastify";

/** The single local user when the auth service has not named one. */
export const LOCAL_USER = "local";

/**
 * Whose memory a request touches. The auth service sets `request.principal`;
 * without it the node is single-user. Kept in one place so the source can change.
 */
export function userIdOf(request: FastifyRequest): string {
  const principal = (request as FastifyRequest & { principal?: { userId?: unknown } }).principal;
  return typeof principal?.userId === "string" && principal.userId.length > 0 ? principal.userId : LOCAL_USER;
}
