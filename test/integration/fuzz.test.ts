import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/testApp.js";
import { as, buildAuthTestApp, claim } from "./authHelpers.js";
import { fileRoutes, findingCases, fuzzCases, STREAMING_ROUTES, TRAVERSAL, type FindingContext, type FuzzAuth } from "./fuzzCorpus.js";
import { runFuzz } from "./fuzzRunner.js";

const CASES = Number(process.env.SOVEREIGN_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.SOVEREIGN_FUZZ_SEED ?? 20261121);

describe("schema-driven fuzzing of every route", () => {
  let t: TestApp;
  let auth: FuzzAuth;
  let findings: FindingContext;
  let canary: string;

  beforeAll(async () => {
    t = await buildAuthTestApp();
    const admin = await claim(t.app, t.dataDir);
    const key = await t.app.inject({ method: "POST", url: "/api/keys", headers: { host: "localhost", ...as(admin) }, payload: { name: "fuzz", scopes: ["chat", "memory:read", "memory:write", "models", "admin", "metrics"] } });
    auth = { adminKey: (key.json() as { key: string }).key, sessionCookie: admin.cookie };
    const chat = await t.app.inject({ method: "POST", url: "/api/keys", headers: { host: "localhost", ...as(admin) }, payload: { name: "fuzz chat", scopes: ["chat"] } });
    const fifoPath = join(t.dataDir, "import", "pipe.gguf");
    mkdirSync(join(t.dataDir, "import"), { recursive: true });
    execFileSync("mkfifo", [fifoPath]);
    findings = { ...auth, chatKey: (chat.json() as { key: string }).key, csrf: admin.csrf, fifoPath };
    // A file beside the data dir that no route may read, change or delete.
    canary = join(t.dataDir, "..", `${t.dataDir.split("/").pop()}-canary.txt`);
    writeFileSync(canary, "CANARY-5f0c1e\n");
  });
  afterAll(async () => {
    await t?.close();
  });

  // First, while the session is surely alive (the generated cases may log it out).
  it("answers each finding of the outside attack run (issue 16) as it must, never with a 5xx", async () => {
    const cases = findingCases(findings);
    expect(cases.length).toBeGreaterThan(30);
    const wrong: string[] = [];
    for (const c of cases) {
      const res = await t.app.inject({ method: c.method as "GET", url: c.url, headers: c.headers, ...(c.payload === undefined ? {} : { payload: c.payload }), ...(c.remoteAddress ? { remoteAddress: c.remoteAddress } : {}) });
      if (res.statusCode !== c.expect) wrong.push(`${c.route}: expected ${c.expect}, got ${res.statusCode} ${res.body.slice(0, 160)}`);
    }
    expect(wrong).toEqual([]);
    const report = await runFuzz(t.app, cases);
    expect(report.serverErrors).toBe(0);
    expect(report.crashes).toBe(0);
  });

  it(`answers ${CASES} generated requests (valid, boundary, malformed; odd methods, headers, queries) without a 5xx or a crash`, async () => {
    expect(t.app.routeCatalog.length).toBeGreaterThan(20);
    const report = await runFuzz(t.app, fuzzCases(t.app.routeCatalog, auth, SEED, CASES));
    expect(report.cases).toBe(CASES);
    expect(report.crashes, JSON.stringify(report.crashSamples, null, 1)).toBe(0);
    expect(report.serverErrors, JSON.stringify(report.serverErrorSamples, null, 1)).toBe(0);
    // Every route (but the endless event stream) was reached.
    const untested = t.app.routeCatalog.map((r) => `${r.method} ${r.url}`).filter((r) => !STREAMING_ROUTES.has(r) && !report.routes.has(r));
    expect(untested).toEqual([]);
    const health = await t.app.inject({ method: "GET", url: "/healthz" });
    expect(health.statusCode).toBe(200);
    process.stdout.write(`fuzz: ${report.cases} cases, status ${JSON.stringify(report.statuses)}, kinds ${JSON.stringify(report.kinds)}\n`);
  });

  it("refuses path traversal on every route that touches files, and leaks nothing", async () => {
    const routes = fileRoutes(t.app.routeCatalog);
    expect(routes.length).toBeGreaterThan(5);
    const headers = { host: "localhost", authorization: `Bearer ${auth.adminKey}` };
    const secret = readFileSync(join(t.dataDir, "keys", "node.key"), "utf8").trim();
    let sent = 0;
    for (const route of routes) {
      for (const evil of TRAVERSAL) {
        const enc = route.url.includes("*") ? evil : encodeURIComponent(evil);
        const url = route.url.replace(/:([A-Za-z0-9_]+)|\*/g, enc);
        const body = route.method === "GET" || route.method === "DELETE" ? undefined : JSON.stringify({ path: evil, name: evil, url: `file://${evil}`, sha256: "ab".repeat(32), file: evil });
        for (const u of [url, `${url}${url.includes("?") ? "&" : "?"}name=${encodeURIComponent(evil)}&path=${encodeURIComponent(evil)}`]) {
          const res = await t.app.inject({ method: route.method as "GET", url: u, headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}) }, ...(body ? { payload: body } : {}) });
          sent++;
          expect(res.statusCode, `${route.method} ${u} -> ${res.body.slice(0, 300)}`).toBeLessThan(500);
          expect(res.body).not.toMatch(/root:.*:0:0:/);
          expect(res.body).not.toContain("CANARY-5f0c1e");
          expect(res.body).not.toContain(secret);
        }
      }
    }
    expect(readFileSync(canary, "utf8")).toBe("CANARY-5f0c1e\n");
    expect(sent).toBeGreaterThan(200);
  });
});
