import type { FastifyRequest } from "fastify";

/** The single local user when the auth service has not named one. */
export const LOCAL_USER = "local";

/**
 * Whose memory a request touches: the caller the auth service found
 * (`request.principal`); without one the node is single-user.
 */
export function userIdOf(request: FastifyRequest): string {
  const userId = request.principal?.userId;
  return typeof userId === "string" && userId.length > 0 ? userId : LOCAL_USER;
}

/**
 * What memory reads about users, from the auth service (`app.auth.users`;
 * at the console, auth's UserStore over the same file): never its tables.
 */
export interface UserDirectory {
  /** The id of the user that a user id or a user name names. */
  idOf(nameOrId: string): string | undefined;
  /** The node's owner: its first admin, once the node is claimed. */
  owner(): { id: string } | undefined;
  /** Whether any user account exists. */
  any(): boolean;
}

/**
 * The user id that `user` (a user name or id) names; with no `user`, the
 * node's owner: its first admin, else the single local user before anyone
 * has claimed the node. Undefined when the named user does not exist.
 */
export function findUserId(users: UserDirectory, user?: string): string | undefined {
  if (!user) return users.owner()?.id ?? LOCAL_USER;
  return users.idOf(user) ?? (user === LOCAL_USER && !users.any() ? LOCAL_USER : undefined);
}
