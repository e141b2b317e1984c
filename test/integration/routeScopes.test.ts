import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RouteInfo } from "../../appliance/plugins/routeCatalog.js";
import { roles, roleScopes, scopes, type Role, type Scope } from "../../services/auth/scopes.js";
import type { TestApp } from "../helpers/testApp.js";
import { buildAuthTestApp, claim } from "./authHelpers.js";
import { STREAMING_ROUTES } from "./fuzzCorpus.js";

/**
 * Routes any authenticated caller may use, whatever its scopes: the named
 * allow-list. Every other route declares what it needs in its config
 * (`scope`, `keyScope`, `access`), and the expected answer below is derived
 * from that declaration alone, so a new route is in this table the day it is added.
 */
const ANY_AUTHENTICATED = new Set([
  "GET /readyz",
  "GET /api/auth/me",
  "POST /api/auth/logout",
  "GET /api/quotas",
  "GET /api/status",
  "GET /api/events",
]);

interface Caller {
  name: string;
  kind: "user" | "apiKey";
  scopes: readonly Scope[];
  headers: () => Record<string, string>;
}

/** What the route's declaration says this caller gets: through, or refused (and with which code). */
function expected(route: RouteInfo, caller: Caller): "through" | "INSUFFICIENT_SCOPE" | "LOOPBACK_ONLY" {
  if (route.access === "loopback") return "LOOPBACK_ONLY";
  if (route.keyScope !== undefined && caller.kind === "apiKey" && (route.keyScope === "never" || !caller.scopes.includes(route.keyScope as Scope))) return "INSUFFICIENT_SCOPE";
  if (route.scope !== undefined && !caller.scopes.includes(route.scope as Scope)) return "INSUFFICIENT_SCOPE";
  return "through";
}

const REFUSALS = new Set(["INSUFFICIENT_SCOPE", "FORBIDDEN", "UNAUTHENTICATED", "LOOPBACK_ONLY", "SESSION_EXPIRED", "API_KEY_INVALID", "CSRF_FAILED", "INVALID_API_KEY"]);

describe("route scopes: every route × a session of each role × a key with each single scope", () => {
  let t: TestApp;
  const callers: Caller[] = [];

  beforeAll(async () => {
    // Some 700 requests from one LAN address: above the per-address rate limit, which is not what this checks.
    t = await buildAuthTestApp({ "limits.ratePerIpPerMinute": 100_000, "limits.ratePerKeyPerMinute": 100_000 });
    await claim(t.app, t.dataDir);
    const auth = t.app.auth;
    const hash = await auth.hashPassword("a long enough password");
    const users: Record<Role, string> = { admin: auth.users.byName("admin")!.id, user: auth.users.create("plain-user", hash, "user").id, guest: auth.users.create("guest-user", hash, "guest").id };
    for (const role of roles) {
      callers.push({
        name: `${role} session`, kind: "user", scopes: roleScopes[role],
        // A fresh session for each request: logout ends the one it is sent with.
        headers: () => {
          const { secret, session } = auth.sessions.create(users[role], { ip: "192.168.1.50" });
          return { cookie: `sovereign_session=${secret}`, "x-csrf-token": session.csrfToken };
        },
      });
    }
    // Keys of the admin: the owner may do everything, so only the key's own scope may let it through.
    for (const scope of scopes) {
      const { secret } = auth.keys.create({ userId: users.admin, name: `only ${scope}`, scopes: [scope], expiresAt: null });
      callers.push({ name: `admin's "${scope}" key`, kind: "apiKey", scopes: [scope], headers: () => ({ authorization: `Bearer ${secret}` }) });
    }
  });
  afterAll(async () => t?.close());

  /** Routes that need a caller: all but the public allow-list, the first-run claim and the web UI's static files. */
  function gated(): RouteInfo[] {
    return t.app.routeCatalog.filter((r) => r.access !== "public" && r.access !== "setup" && r.method !== "HEAD");
  }

  it("every gated route declares what it needs, or is on the named allow-list of routes for any authenticated caller", () => {
    const routes = gated();
    expect(routes.length).toBeGreaterThan(60);
    const undeclared = routes.filter((r) => r.scope === undefined && r.keyScope === undefined && r.access === undefined).map((r) => `${r.method} ${r.url}`);
    expect(undeclared.filter((n) => !ANY_AUTHENTICATED.has(n))).toEqual([]);
    // The allow-list holds no stale names.
    const names = new Set(t.app.routeCatalog.map((r) => `${r.method} ${r.url}`));
    expect([...ANY_AUTHENTICATED].filter((n) => !names.has(n))).toEqual([]);
  });

  it("each caller gets exactly what the route declares: through, or INSUFFICIENT_SCOPE from the access hook", async () => {
    const mismatches: string[] = [];
    let checked = 0;
    for (const route of gated()) {
      const name = `${route.method} ${route.url}`;
      for (const caller of callers) {
        const want = expected(route, caller);
        // An endless event stream cannot be injected; refusals come before its handler, so those are still checked.
        if (STREAMING_ROUTES.has(name) && want === "through") continue;
        const unsafe = !["GET", "HEAD", "OPTIONS"].includes(route.method);
        const res = await t.app.inject({
          method: route.method as "GET",
          url: route.url.replace(/:[A-Za-z0-9_]+/g, "x1").replace(/\*/g, "x1"),
          remoteAddress: "192.168.1.50",
          headers: { host: "localhost:8080", ...caller.headers(), ...(unsafe ? { "content-type": "application/json" } : {}) },
          ...(unsafe ? { payload: "{}" } : {}),
        });
        checked++;
        // Our shape and OpenAI's carry error.code; Ollama's carries a string error and a top-level code.
        let code: string | undefined;
        try {
          const body = res.json() as { error?: { code?: string } | string; code?: string };
          code = (typeof body.error === "object" ? body.error?.code : body.code)?.toUpperCase();
        } catch {
          code = undefined;
        }
        const refused = (res.statusCode === 401 || res.statusCode === 403) && code !== undefined && REFUSALS.has(code);
        const got = refused ? code! : "through";
        if (got !== want) mismatches.push(`${name} as ${caller.name}: expected ${want}, got ${res.statusCode} ${res.body.slice(0, 100)}`);
      }
    }
    expect(checked).toBeGreaterThan(500);
    expect(mismatches).toEqual([]);
  });
});
