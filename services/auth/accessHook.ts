import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { AuthService } from "./AuthService.js";
import { clearSessionCookies, CSRF_HEADER, SESSION_COOKIE } from "./cookies.js";
import { isLoopbackAddress, type HostAllowList } from "./hostCheck.js";
import { safeEqual } from "./secrets.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** A browser's Origin (or Sec-Fetch-Site) shows the request came from a page of another site. */
export function crossOrigin(request: FastifyRequest): boolean {
  if (request.headers["sec-fetch-site"] === "cross-site") return true;
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return true; // "null" (sandboxed frames, file: pages) and garbage
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return true;
  let host = (request.headers.host ?? "").toLowerCase();
  const defaultPort = u.protocol === "https:" ? ":443" : ":80";
  if (host.endsWith(defaultPort)) host = host.slice(0, -defaultPort.length);
  return u.host.toLowerCase() !== host;
}

function bearer(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1] ?? "";
}

/**
 * The one gate every request passes (onRequest, before any body is read):
 * Host check, then who is calling, then the route's access rule, scope and
 * key scope, then CSRF for state-changing requests. Routes declare what they
 * need in their config and never check roles themselves, so this is the one
 * place a caller's permissions are decided (test/integration/routeScopes.test.ts
 * checks every route against its declaration).
 */
export function accessHook(app: FastifyInstance, auth: AuthService, hosts: HostAllowList) {
  const cookieMode = app.config["auth.secureCookies"];
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!hosts.allows(request.headers.host)) {
      throw new SovereignError("HOST_NOT_ALLOWED", `Host ${JSON.stringify(String(request.headers.host ?? "").slice(0, 100))} is not one of this node's names.`);
    }

    // Who is calling. Bad credentials only matter where credentials are needed.
    let failure: SovereignError | undefined;
    const token = bearer(request);
    if (token !== undefined) {
      const r = token === "" ? { reason: "malformed" } : auth.principalFromApiKey(token);
      if ("principal" in r) request.principal = r.principal;
      else failure = new SovereignError("API_KEY_INVALID");
    } else {
      const secret = request.cookies[SESSION_COOKIE];
      if (secret) {
        const r = auth.principalFromSession(secret);
        if ("principal" in r) {
          request.principal = r.principal;
          request.authSession = r.session;
        } else {
          clearSessionCookies(request, reply, cookieMode);
          failure = new SovereignError("SESSION_EXPIRED");
        }
      }
    }

    const config = request.routeOptions.config;
    const access = request.is404 ? "public" : config.access;
    const unsafe = !SAFE_METHODS.has(request.method);
    // CSRF: a browser attaches cookies to a foreign page's request, but never an API key; so a Bearer request from
    // another origin (a browser app allowed by server.corsOrigins) is the key holder's own, and only those pass.
    if (unsafe && token === undefined && crossOrigin(request)) throw new SovereignError("CSRF_FAILED", "Cross-origin requests are refused.");

    if (access === "public") return;
    if (access === "setup") {
      if (auth.isClaimed()) throw new SovereignError("SETUP_CLOSED");
      return;
    }
    if (access === "loopback") {
      if (!isLoopbackAddress(request.socket.remoteAddress)) throw new SovereignError("LOOPBACK_ONLY");
      return;
    }
    // The node itself needs no credentials (a local scraper); anyone else is checked below like any caller.
    if (access === "loopbackOrScope" && isLoopbackAddress(request.socket.remoteAddress)) return;

    const principal = request.principal;
    if (!principal) throw failure ?? new SovereignError("UNAUTHENTICATED", "Log in, or send an API key as a Bearer token.");
    const scope = config.scope;
    if (scope !== undefined && !principal.scopes.includes(scope)) {
      throw new SovereignError("INSUFFICIENT_SCOPE", `This needs the "${scope}" permission.`, { details: { scope } });
    }
    // What a key needs beyond that: an admin's key scoped to "chat" must not act with its owner's role.
    const keyScope = config.keyScope;
    if (keyScope !== undefined && principal.kind === "apiKey" && (keyScope === "never" || !principal.scopes.includes(keyScope))) {
      throw new SovereignError(
        "INSUFFICIENT_SCOPE",
        keyScope === "never" ? "This takes a logged-in session, not an API key." : `An API key needs the "${keyScope}" permission for this; a logged-in session does not.`,
        { details: { scope: keyScope } },
      );
    }
    // A cookie rides along on any request the browser sends; a token from the page proves the page sent it.
    if (unsafe && principal.kind === "user") {
      const sent = request.headers[CSRF_HEADER];
      const expected = request.authSession?.csrfToken;
      if (typeof sent !== "string" || !expected || !safeEqual(sent, expected)) {
        throw new SovereignError("CSRF_FAILED", "Missing or wrong X-CSRF-Token header.");
      }
    }
  };
}
