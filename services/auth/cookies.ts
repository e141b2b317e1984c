import type { FastifyReply, FastifyRequest } from "fastify";
import type { SessionInfo } from "./SessionStore.js";

export const SESSION_COOKIE = "sovereign_session";
/** Readable by the page's script, so it can echo the token in X-CSRF-Token. */
export const CSRF_COOKIE = "sovereign_csrf";
export const CSRF_HEADER = "x-csrf-token";

function secure(request: FastifyRequest, mode: "auto" | "always"): boolean {
  return mode === "always" || request.protocol === "https";
}

/** Sets the session cookie (HttpOnly, SameSite=Strict, Secure under HTTPS) and the CSRF cookie. */
export function setSessionCookies(request: FastifyRequest, reply: FastifyReply, secret: string, session: SessionInfo, mode: "auto" | "always"): void {
  const common = { path: "/", sameSite: "strict" as const, secure: secure(request, mode), expires: new Date(session.expiresAt) };
  void reply.setCookie(SESSION_COOKIE, secret, { ...common, httpOnly: true });
  void reply.setCookie(CSRF_COOKIE, session.csrfToken, { ...common, httpOnly: false });
}

export function clearSessionCookies(request: FastifyRequest, reply: FastifyReply, mode: "auto" | "always"): void {
  const common = { path: "/", sameSite: "strict" as const, secure: secure(request, mode) };
  void reply.clearCookie(SESSION_COOKIE, { ...common, httpOnly: true });
  void reply.clearCookie(CSRF_COOKIE, { ...common, httpOnly: false });
}
