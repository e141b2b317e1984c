import type { FastifyRequest } from "fastify";
import { SovereignError } from "../../core/errors/SovereignError.js";

/** The parts of the auth service's principal this service reads. */
interface PrincipalLike {
  role?: string;
  roles?: readonly string[];
  scopes?: readonly string[];
}

/** True when the principal is an admin user or a key with the admin scope. */
export function isAdmin(p: PrincipalLike | undefined | null): boolean {
  if (!p) return false;
  // A key's scopes are narrower than its owner's role, so scopes decide when present.
  if (p.scopes) return p.scopes.includes("admin");
  return p.role === "admin" || Boolean(p.roles?.includes("admin"));
}

/**
 * preHandler for admin-only routes. The auth service authenticates every
 * route first; this adds the admin check on what it attached.
 */
export async function requireAdmin(request: FastifyRequest): Promise<void> {
  if (!request.server.hasRequestDecorator("principal")) return;
  const principal = (request as unknown as { principal?: PrincipalLike | null }).principal;
  if (!principal) throw new SovereignError("UNAUTHENTICATED");
  if (!isAdmin(principal)) throw new SovereignError("FORBIDDEN", "The audit log is readable by admins only.");
}
