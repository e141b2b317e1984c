import type { ApiKey } from "../ApiKeyStore.js";
import type { User } from "../UserStore.js";

/** A user as the API shows it: never the hash. */
export function userView(u: User) {
  return {
    id: u.id,
    username: u.username,
    role: u.role,
    disabled: u.disabled,
    tokensPerHour: u.tokensPerHour,
    tokensPerDay: u.tokensPerDay,
    createdAt: new Date(u.createdAt).toISOString(),
    passwordChangedAt: new Date(u.passwordChangedAt).toISOString(),
  };
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** A key as the API shows it: its prefix, never the secret or its hash. */
export function keyView(k: ApiKey, now = Date.now()) {
  return {
    id: k.id,
    userId: k.userId,
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes,
    createdAt: iso(k.createdAt),
    expiresAt: iso(k.expiresAt),
    lastUsedAt: iso(k.lastUsedAt),
    revokedAt: iso(k.revokedAt),
    status: k.revokedAt !== null ? "revoked" : k.expiresAt !== null && now >= k.expiresAt ? "expired" : "active",
    tokensPerHour: k.tokensPerHour,
    tokensPerDay: k.tokensPerDay,
  };
}

/** JSON schema pieces shared by the routes. */
export const schemas = {
  username: { type: "string", minLength: 1, maxLength: 32 },
  password: { type: "string", minLength: 1, maxLength: 1024 },
  role: { type: "string", enum: ["admin", "user", "guest"] },
  limit: { anyOf: [{ type: "integer", minimum: 0 }, { type: "null" }] },
  idParams: { type: "object", required: ["id"], properties: { id: { type: "string", maxLength: 64 } } },
} as const;
