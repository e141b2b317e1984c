/**
 * What a caller may do. Routes name the one scope they need in
 * `config.scope`; a route without one needs only an authenticated caller.
 */
export const scopes = ["chat", "memory:read", "memory:write", "models", "admin", "metrics"] as const;
export type Scope = (typeof scopes)[number];

export const roles = ["admin", "user", "guest"] as const;
export type Role = (typeof roles)[number];

/**
 * The permission table (services/auth/README.md shows it). An API key carries
 * its own scopes, but never more than its owner's role grants at the time of use.
 */
export const roleScopes: Readonly<Record<Role, readonly Scope[]>> = {
  admin: scopes,
  user: ["chat", "memory:read", "memory:write", "metrics"],
  guest: ["chat", "memory:read"],
};

export function isScope(value: unknown): value is Scope {
  return typeof value === "string" && (scopes as readonly string[]).includes(value);
}

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (roles as readonly string[]).includes(value);
}

/** The scopes a key may really use: what it was given, less what its owner's role no longer allows. */
export function effectiveKeyScopes(keyScopes: readonly Scope[], ownerRole: Role): Scope[] {
  const allowed = roleScopes[ownerRole];
  return keyScopes.filter((s) => allowed.includes(s));
}
