import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import type { TestApp } from "../helpers/testApp.js";
import { buildAuthTestApp, setupCodeOf } from "./authHelpers.js";

interface RouteEntry {
  method: string;
  path: string;
}

/**
 * Every route of the built app, from fastify's own radix-tree listing: each
 * line's segment is appended to its ancestors' (indentation is 4 characters a level).
 */
export function listRoutes(app: FastifyInstance): RouteEntry[] {
  const out: RouteEntry[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes().split("\n")) {
    const m = /^((?:[│ ] {3})*)[└├]── (.*)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const rest = m[2]!;
    const mm = /^(.*?)(?: \(([A-Z, ]+)\))?$/.exec(rest)!;
    stack.length = depth;
    stack.push(mm[1]!);
    if (mm[2]) for (const method of mm[2].split(",").map((s) => s.trim())) out.push({ method, path: stack.join("") });
  }
  return out;
}

/** The named allow-list: the only routes that may answer a request without credentials. */
const PUBLIC = new Set(["GET /healthz", "HEAD /healthz", "GET /api/setup/status", "HEAD /api/setup/status", "POST /api/auth/login"]);
const SETUP_WHILE_UNCLAIMED = new Set(["POST /api/setup/claim"]);
/** The login page and static assets of the web UI: GET/HEAD outside the API namespaces, never JSON. */
function isStaticAsset(r: RouteEntry): boolean {
  return (r.method === "GET" || r.method === "HEAD") && !/^\/(api|v1|readyz|metrics|events)(\/|$)/.test(r.path);
}

function concrete(path: string): string {
  return path.replace(/:[A-Za-z0-9_]+/g, "x1").replace(/\*/g, "x1");
}

/** A request with no credentials, from another machine on the LAN, naming the node correctly. */
function anonymous(app: FastifyInstance, r: RouteEntry) {
  const body = ["POST", "PUT", "PATCH", "DELETE"].includes(r.method) ? { payload: {} } : {};
  return app.inject({ method: r.method as "GET", url: concrete(r.path), remoteAddress: "192.168.1.50", headers: { host: "localhost:8080" }, ...body });
}

const REFUSALS = new Set(["UNAUTHENTICATED", "LOOPBACK_ONLY", "SETUP_CLOSED"]);

/** The error code of a refusal, in our shape, OpenAI's (the /v1 routes) or Ollama's (/ollama: { error: text, code }), as a catalog code. */
function refusalCode(body: { error?: { code?: string | null } | string; code?: string }): string | undefined {
  const code = (typeof body.error === "string" ? body.code : body.error?.code)?.toUpperCase();
  return code === "INVALID_API_KEY" ? "UNAUTHENTICATED" : code;
}

describe("route coverage: every route refuses an anonymous request except the named allow-list", () => {
  let t: TestApp;
  let routes: RouteEntry[];
  beforeAll(async () => {
    t = await buildAuthTestApp();
    routes = listRoutes(t.app);
  });
  afterAll(async () => t.close());

  it("finds the app's routes", () => {
    const names = routes.map((r) => `${r.method} ${r.path}`);
    for (const n of ["GET /healthz", "GET /readyz", "POST /api/auth/login", "POST /api/setup/claim", "GET /api/users/:id", "DELETE /api/keys/:id"]) expect(names).toContain(n);
    expect(routes.length).toBeGreaterThan(15);
  });

  async function check(claimed: boolean): Promise<string[]> {
    const problems: string[] = [];
    for (const r of routes) {
      const name = `${r.method} ${r.path}`;
      const res = await anonymous(t.app, r);
      if (PUBLIC.has(name)) continue;
      if (!claimed && SETUP_WHILE_UNCLAIMED.has(name)) {
        if (res.statusCode === 401 || res.statusCode === 403) problems.push(`${name}: setup route refused while unclaimed (${res.statusCode})`);
        continue;
      }
      if (isStaticAsset(r) && !(res.statusCode === 401 || res.statusCode === 403)) {
        if (/json/.test(String(res.headers["content-type"] ?? "")) && res.statusCode < 400) problems.push(`${name}: public static route answered JSON`);
        continue;
      }
      const refused = res.statusCode === 401 || res.statusCode === 403;
      // HEAD answers carry no body; their status is the whole answer.
      const code = refused && r.method === "HEAD" ? "UNAUTHENTICATED" : refused ? refusalCode(res.json()) : undefined;
      if (!code || !REFUSALS.has(code)) problems.push(`${name}: answered ${res.statusCode} ${res.body.slice(0, 120)}`);
    }
    return problems;
  }

  it("while unclaimed", async () => {
    expect(await check(false)).toEqual([]);
  });

  it("once claimed (the claim route is then closed too)", async () => {
    const res = await t.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code: setupCodeOf(t.dataDir), username: "admin", password: "a long admin password" } });
    expect(res.statusCode).toBe(201);
    expect(await check(true)).toEqual([]);
  });
});
