import type BetterSqlite3 from "better-sqlite3";
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

/** Whether the auth service has made its users table (the node has, or had, accounts). */
export function hasAccounts(sqlite: BetterSqlite3.Database): boolean {
  return sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'auth_users'").get() !== undefined;
}

/**
 * The user id that `user` (a user name or id) names; with no `user`, the
 * node's owner: its first admin, else the single local user before anyone
 * has claimed the node. Undefined when the named user does not exist.
 */
export function findUserId(sqlite: BetterSqlite3.Database, user?: string): string | undefined {
  if (!hasAccounts(sqlite)) return !user || user === LOCAL_USER ? LOCAL_USER : undefined;
  if (user) {
    const row = sqlite.prepare("SELECT id FROM auth_users WHERE id = ? OR username = ?").get(user, user) as { id: string } | undefined;
    return row?.id;
  }
  const admin = sqlite.prepare("SELECT id FROM auth_users WHERE role = 'admin' ORDER BY created_at LIMIT 1").get() as { id: string } | undefined;
  return admin?.id ?? LOCAL_USER;
}
