// The full fuzz run: schema-driven requests over every route of the real app, via inject().
// `npm run bench fuzz` (SOVEREIGN_FUZZ_CASES, default 50,000; SOVEREIGN_FUZZ_SEED). CI runs 10,000 in test/integration/fuzz.test.ts.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buildTestApp } from "../test/helpers/testApp.js";
import { findingCases, fuzzCases, STREAMING_ROUTES } from "../test/integration/fuzzCorpus.js";
import { runFuzz } from "../test/integration/fuzzRunner.js";
import { writeResult } from "./lib/writeResult.js";

const cases = Number(process.env.SOVEREIGN_FUZZ_CASES ?? 50_000);
const seed = Number(process.env.SOVEREIGN_FUZZ_SEED ?? 20261121);
const t = await buildTestApp({ "auth.scryptLogN": 14 });
try {
  const claim = await t.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code: readFileSync(join(t.dataDir, "setup-code"), "utf8").trim(), username: "admin", password: "correct horse battery staple" } });
  const cookie = claim.cookies.map((c) => `${c.name}=${c.value}`).join("; ");
  const csrf = (claim.json() as { csrfToken: string }).csrfToken;
  const keyRes = await t.app.inject({ method: "POST", url: "/api/keys", headers: { host: "localhost", cookie, "x-csrf-token": csrf }, payload: { name: "fuzz", scopes: ["chat", "memory:read", "memory:write", "models", "admin", "metrics"] } });
  const adminKey = (keyRes.json() as { key: string }).key;
  const chatRes = await t.app.inject({ method: "POST", url: "/api/keys", headers: { host: "localhost", cookie, "x-csrf-token": csrf }, payload: { name: "fuzz chat", scopes: ["chat"] } });
  const fifoPath = join(t.dataDir, "import", "pipe.gguf");
  mkdirSync(join(t.dataDir, "import"), { recursive: true });
  execFileSync("mkfifo", [fifoPath]);
  // The outside attack run's findings (issue 16) first, while the session is alive; then the generated cases.
  const findings = findingCases({ adminKey, sessionCookie: cookie, csrf, chatKey: (chatRes.json() as { key: string }).key, fifoPath });
  let findingsAsExpected = 0;
  for (const c of findings) {
    const res = await t.app.inject({ method: c.method as "GET", url: c.url, headers: c.headers, ...(c.payload === undefined ? {} : { payload: c.payload }), ...(c.remoteAddress ? { remoteAddress: c.remoteAddress } : {}) });
    if (res.statusCode === c.expect) findingsAsExpected++;
    else console.log(`fuzz: finding case ${c.route} answered ${res.statusCode}, expected ${c.expect}: ${res.body.slice(0, 200)}`);
  }
  const corpus = function* () {
    yield* findings;
    yield* fuzzCases(t.app.routeCatalog, { adminKey, sessionCookie: cookie }, seed, cases);
  };
  const report = await runFuzz(t.app, corpus(), (n) => console.log(`fuzz: ${n} cases…`));
  const healthz = (await t.app.inject({ method: "GET", url: "/healthz" })).statusCode;
  const routes = t.app.routeCatalog.map((r) => `${r.method} ${r.url}`);
  writeResult("fuzz", {
    command: "npm run bench fuzz",
    seed,
    cases: report.cases,
    findingCases: findings.length,
    findingCasesAsExpected: findingsAsExpected,
    seconds: +(report.ms / 1000).toFixed(1),
    casesPerSecond: Math.round(report.cases / (report.ms / 1000)),
    routes: { total: routes.length, fuzzed: report.routes.size, skipped: routes.filter((r) => STREAMING_ROUTES.has(r)) },
    kinds: report.kinds,
    statuses: report.statuses,
    serverErrors: report.serverErrors,
    serverErrorSamples: report.serverErrorSamples,
    crashes: report.crashes,
    crashSamples: report.crashSamples,
    healthzAfter: healthz,
  });
  console.log(`fuzz: ${report.cases} cases, ${report.serverErrors} responses >= 500, ${report.crashes} crashes, /healthz ${healthz}`);
} finally {
  await t.close();
}
