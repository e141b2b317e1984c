import type { FastifyRequest } from "fastify";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { Role, Scope } from "./scopes.js";

/** Who is calling: a logged-in user (session cookie) or an API key (Bearer). */
export interface Principal {
  kind: "user" | "apiKey";
  userId: string;
  username: string;
  role: Role;
  /** What this caller may do: the role's scopes for a session, the key's own for a key. */
  scopes: Scope[];
  /** The key's id when kind is "apiKey" (quotas are counted per key too). */
  keyId?: string;
  /** The session's id (not its secret) when kind is "user". */
  sessionId?: string;
}

/** The caller of an authenticated route; throws UNAUTHENTICATED on a public route with nobody logged in. */
export function requirePrincipal(request: FastifyRequest): Principal {
  const p = request.principal;
  if (!p) throw new SovereignError("UNAUTHENTICATED", "Log in or send an API key as a Bearer token.");
  return p;
}

export function hasScope(principal: Principal | null, scope: Scope): boolean {
  return principal !== null && principal.scopes.includes(scope);
}

/** Throws INSUFFICIENT_SCOPE unless the caller holds the scope. For checks finer than a route's `config.scope`. */
export function requireScope(request: FastifyRequest, scope: Scope): Principal {
  const p = requirePrincipal(request);
  if (!p.scopes.includes(scope)) {
    throw new SovereignError("INSUFFICIENT_SCOPE", `This needs the "${scope}" permission.`, { details: { scope } });
  }
  return p;
}

/** Whether the caller may act on something owned by `userId`: its owner, or an admin. */
export function canActFor(principal: Principal, userId: string): boolean {
  return principal.userId === userId || principal.scopes.includes("admin");
}
