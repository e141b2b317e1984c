import type { RouteInfo } from "../../appliance/plugins/routeCatalog.js";
import { mulberry32 } from "../../core/mulberry32.js";

/** A small deterministic PRNG, so every fuzz run can be replayed from its seed. */
export const rng = mulberry32;

type Rand = () => number;
type Schema = Record<string, unknown>;
export type Mode = "valid" | "boundary" | "malformed";

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** Traversal and injection strings: for path parameters, wildcards, queries and string fields. */
export const TRAVERSAL = [
  "../../../../etc/passwd", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "....//....//etc/passwd",
  "..\\..\\..\\windows\\win.ini", "/etc/passwd", "%00", "a%00.gguf", "..%252f..%252fetc%252fpasswd", "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
  "keys/node.key", "../keys/node.key", "../../sovereign.db", "file:///etc/passwd", "~/.ssh/id_rsa", "..", ".", "//", "%2F",
] as const;

const NASTY_STRINGS = [
  "", " ", "a".repeat(10_000), "ü🦄\u202e\u0000", "' OR 1=1 --", "<script>alert(1)</script>", "${jndi:ldap://x}", "__proto__", "constructor",
  "\r\nX-Injected: 1", "%", "%zz", "null", "-1", "1e309", "NaN", ...TRAVERSAL,
];

/** A value for a JSON schema: valid (within its bounds), boundary (at its bounds) or malformed (wrong type or out of range). */
export function valueFor(schema: Schema | undefined, r: Rand, mode: Mode, depth = 0): unknown {
  if (!schema || depth > 6) return mode === "malformed" ? pick(r, NASTY_STRINGS) : "x";
  if (mode === "malformed" && r() < 0.5) return pick(r, [null, 12345, -1, 1.5, true, "str", [], {}, pick(r, NASTY_STRINGS), [1, "a", null], { __proto__: null, a: 1 }]);
  const variants = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (variants?.length) return valueFor(pick(r, variants), r, mode, depth + 1);
  if (Array.isArray(schema.enum)) return mode === "malformed" ? "not-in-enum" : pick(r, schema.enum as unknown[]);
  if (schema.const !== undefined) return schema.const;
  const type = Array.isArray(schema.type) ? pick(r, schema.type as string[]) : (schema.type as string | undefined);
  switch (type) {
    case "string": {
      const min = (schema.minLength as number | undefined) ?? 0;
      const max = Math.min((schema.maxLength as number | undefined) ?? 64, 100_000);
      if (schema.pattern) return patternSample(String(schema.pattern), r, mode);
      if (mode === "boundary") return pick(r, ["a".repeat(min), "b".repeat(max), "ü".repeat(Math.max(min, 1))]);
      if (mode === "malformed") return pick(r, ["a".repeat(max + 1), ...(min > 0 ? [""] : []), pick(r, NASTY_STRINGS)]);
      return r() < 0.3 ? pick(r, NASTY_STRINGS.filter((s) => s.length >= min && s.length <= max).concat(["ok"])) : "v".repeat(Math.max(min, Math.min(max, 1 + Math.floor(r() * 12))));
    }
    case "integer":
    case "number": {
      const min = (schema.minimum as number | undefined) ?? (schema.exclusiveMinimum as number | undefined) ?? -1000;
      const max = (schema.maximum as number | undefined) ?? (schema.exclusiveMaximum as number | undefined) ?? 1000;
      if (mode === "boundary") return pick(r, [min, max, 0, Number.MAX_SAFE_INTEGER]);
      if (mode === "malformed") return pick(r, [min - 1, max + 1, 1.5, -0, 1e308, "12"]);
      const v = min + r() * (max - min);
      return type === "integer" ? Math.round(v) : v;
    }
    case "boolean":
      return mode === "malformed" ? "true" : r() < 0.5;
    case "null":
      return null;
    case "array": {
      const items = schema.items as Schema | undefined;
      const maxItems = Math.min((schema.maxItems as number | undefined) ?? 5, 50);
      const n = mode === "boundary" ? pick(r, [(schema.minItems as number | undefined) ?? 0, maxItems]) : mode === "malformed" ? maxItems + 1 + Math.floor(r() * 200) : Math.floor(r() * (maxItems + 1));
      return Array.from({ length: n }, () => valueFor(items, r, mode === "malformed" && r() < 0.5 ? "valid" : mode, depth + 1));
    }
    case "object":
    default: {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = (schema.required ?? []) as string[];
      const out: Record<string, unknown> = {};
      for (const [k, s] of Object.entries(props)) {
        const include = required.includes(k) ? !(mode === "malformed" && r() < 0.2) : r() < (mode === "boundary" ? 0.9 : 0.5);
        if (include) out[k] = valueFor(s, r, mode === "malformed" && r() < 0.6 ? "valid" : mode, depth + 1);
      }
      if (mode === "malformed" && r() < 0.3) out[pick(r, ["extra", "__proto__x", "constructor", "$where"])] = pick(r, NASTY_STRINGS);
      return out;
    }
  }
}

/** Strings for a few common pattern shapes; anything else gets a plain token. */
function patternSample(pattern: string, r: Rand, mode: Mode): string {
  if (mode === "malformed") return pick(r, NASTY_STRINGS);
  if (pattern.includes("0-9a-fA-F]{64}") || pattern.includes("[0-9a-f]{64}")) return "ab".repeat(32);
  if (pattern.startsWith("^[1-9][0-9]")) return String(1 + Math.floor(r() * (mode === "boundary" ? 999 : 50)));
  if (pattern.includes("[a-z]")) return pick(r, ["auth.login", "test.event", "a", "abc_def"]);
  return "x";
}

export interface FuzzCase {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
  remoteAddress?: string;
  kind: Mode | "method" | "traversal" | "finding";
  route: string;
  /** Finding cases only: the status the answer must have (each is a regression test as well as a fuzz case). */
  expect?: number;
}

export interface FuzzAuth {
  /** An API key with every scope (no CSRF needed). */
  adminKey: string;
  /** A session cookie (without its CSRF token: unsafe methods must be refused). */
  sessionCookie: string;
}

/** Routes whose responses never end (server-sent events) cannot be fuzzed through inject(). */
export const STREAMING_ROUTES = new Set(["GET /api/events"]);

function fillPath(url: string, params: Schema | undefined, r: Rand, mode: Mode): string {
  const props = (params?.properties ?? {}) as Record<string, Schema>;
  return url.replace(/:([A-Za-z0-9_]+)|\*/g, (_m, name: string | undefined) => {
    if (mode === "malformed" || r() < 0.25) return pick(r, [...TRAVERSAL, "%E0%A4%A", "x".repeat(300), "%", "ü"]);
    const v = valueFor(name ? props[name] : undefined, r, mode === "boundary" ? "boundary" : "valid");
    return encodeURIComponent(String(v ?? "x"));
  });
}

function query(schema: Schema | undefined, r: Rand, mode: Mode): string {
  const q = new URLSearchParams();
  if (schema) {
    const obj = valueFor(schema, r, mode) as Record<string, unknown> | null;
    if (obj && typeof obj === "object" && !Array.isArray(obj)) for (const [k, v] of Object.entries(obj)) q.append(k, typeof v === "string" ? v : JSON.stringify(v));
  }
  if (mode !== "valid" && r() < 0.4) q.append(pick(r, ["a", "__proto__[admin]", "limit", "before", "x[]"]), pick(r, NASTY_STRINGS).slice(0, 500));
  if (mode === "malformed" && r() < 0.2) return `?${q.toString()}&%zz=%&a=1&a=2`;
  const s = q.toString();
  return s ? `?${s}` : "";
}

const MALFORMED_BODIES = [
  "{", "}", "[", "null", "[]", "1", "\"s\"", "{\"a\":}", "{\"__proto__\":{\"admin\":true}}", "{\"constructor\":{\"prototype\":{\"admin\":true}}}",
  `${"[".repeat(5000)}${"]".repeat(5000)}`, `{"a":"${"x".repeat(200_000)}"}`, "\u0000\u0001\u0002", "\uFEFF{}", "{\"a\":1,\"a\":2}", "tru", "NaN",
];

/** Generates `count` requests over every route: a third valid, a third at the bounds, a third malformed, with odd methods, headers and callers mixed in. */
export function* fuzzCases(routes: readonly RouteInfo[], auth: FuzzAuth, seed: number, count: number): Generator<FuzzCase> {
  const r = rng(seed);
  const targets = routes.filter((x) => !STREAMING_ROUTES.has(`${x.method} ${x.url}`));
  for (let i = 0; i < count; i++) {
    const route = targets[i % targets.length]!;
    const schema = (route.schema ?? {}) as Record<string, Schema | undefined>;
    const mode: Mode = pick(r, ["valid", "boundary", "malformed"] as const);
    const headers: Record<string, string> = { host: pick(r, ["localhost", "localhost", "localhost", "127.0.0.1:8080", "evil.example"]) };
    const who = r();
    if (who < 0.6) headers.authorization = `Bearer ${auth.adminKey}`;
    else if (who < 0.7) headers.cookie = auth.sessionCookie;
    else if (who < 0.8) headers.authorization = pick(r, ["Bearer ", "Bearer x", "Basic YWRtaW46YWRtaW4=", `Bearer ${"A".repeat(5000)}`, "Bearer sk-fake-0000"]);
    let method = route.method;
    let kind: FuzzCase["kind"] = mode;
    if (r() < 0.08) {
      method = pick(r, ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]);
      kind = "method";
    }
    let url = fillPath(route.url, schema.params, r, mode) + query(schema.querystring, r, mode);
    if (r() < 0.03) url = `${url}${pick(r, ["/..", "//", "/%2e%2e", "#frag", "?".repeat(3)])}`;
    let payload: string | undefined;
    if (method !== "GET" && method !== "HEAD" && method !== "OPTIONS") {
      if (mode === "malformed" && r() < 0.5) payload = pick(r, MALFORMED_BODIES);
      else payload = JSON.stringify(valueFor(schema.body, r, mode) ?? {});
      headers["content-type"] = r() < 0.85 ? "application/json" : pick(r, ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-16", "application/xml", "", "*/*"]);
      if (headers["content-type"] === "") delete headers["content-type"];
    }
    if (r() < 0.1) headers[pick(r, ["x-csrf-token", "accept", "accept-encoding", "if-none-match", "origin", "x-forwarded-for", "range", "sec-fetch-site"])] = pick(r, NASTY_STRINGS).split("").filter((ch) => ch >= " ").join("").slice(0, 4000) || "x";
    const remoteAddress = r() < 0.15 ? pick(r, ["192.168.1.77", "10.1.2.3", "::1", "fe80::1"]) : undefined;
    yield { method, url, headers, ...(payload === undefined ? {} : { payload }), ...(remoteAddress ? { remoteAddress } : {}), kind, route: `${route.method} ${route.url}` };
  }
}

export interface FindingContext extends FuzzAuth {
  /** An API key of the admin that holds only the "chat" scope. */
  chatKey: string;
  /** The session's CSRF token, for the state-changing finding cases. */
  csrf: string;
  /** A FIFO inside the node's model import directory. */
  fifoPath: string;
}

/** JSON text nested `n` deep (as text: JSON.stringify overflows the stack on such values). */
const deepArray = (n: number) => `${"[".repeat(n)}1${"]".repeat(n)}`;
const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;

/**
 * One or more cases for each finding of the outside attack run (issue 16),
 * with the answer each must get: replayed by the fuzz test and `npm run bench fuzz`.
 */
export function findingCases(ctx: FindingContext): FuzzCase[] {
  const now = new Date().toISOString();
  const json = (method: string, url: string, body: unknown, headers: Record<string, string>, expect: number, extra: Partial<FuzzCase> = {}): FuzzCase => ({
    method, url, headers: { host: "localhost", "content-type": "application/json", ...headers }, payload: typeof body === "string" ? body : JSON.stringify(body), kind: "finding", route: `${method} ${url.split("?")[0]}`, expect, ...extra,
  });
  const admin = { cookie: ctx.sessionCookie, "x-csrf-token": ctx.csrf };
  const key = { authorization: `Bearer ${ctx.adminKey}` };
  const chat = { authorization: `Bearer ${ctx.chatKey}` };
  const ndjson = (body: string, expect: number): FuzzCase => ({
    method: "POST", url: "/api/memory/import", headers: { host: "localhost", "content-type": "application/x-ndjson", ...key }, payload: body, kind: "finding", route: "POST /api/memory/import", expect,
  });
  const cases: FuzzCase[] = [];
  // 1. Login lockout: a run of wrong passwords for one name, then the right one while it is locked.
  for (let i = 0; i < 8; i++) cases.push(json("POST", "/api/auth/login", { username: "admin", password: `wrong password ${i}` }, {}, i < 5 ? 401 : 429, { remoteAddress: "192.168.7.1" }));
  cases.push(json("POST", "/api/auth/login", { username: "admin", password: "correct horse battery staple" }, {}, 429, { remoteAddress: "192.168.7.2" }));
  // 2. Scopes: an admin's "chat" key on the federation admin routes.
  cases.push(json("PUT", "/api/federation/peers/some-peer/tier", { tier: "core" }, chat, 403, { route: "PUT /api/federation/peers/:ref/tier" }));
  cases.push(json("POST", "/api/federation/peers/some-peer/approve", { tier: "core", fingerprint: "ab".repeat(16) }, chat, 403, { route: "POST /api/federation/peers/:ref/approve" }));
  cases.push(json("POST", "/api/federation/sync", {}, chat, 403));
  cases.push(json("POST", "/api/federation/backups/mirror", {}, chat, 403));
  cases.push({ method: "GET", url: "/api/federation/mirrors", headers: { host: "localhost", ...chat }, kind: "finding", route: "GET /api/federation/mirrors", expect: 403 });
  cases.push({ method: "DELETE", url: "/api/federation/peers/some-peer", headers: { host: "localhost", ...chat }, kind: "finding", route: "DELETE /api/federation/peers/:ref", expect: 403 });
  // 3. Quotas: a huge max_tokens, streamed (no model is installed in the fuzzed node: a clean 404, never a 5xx).
  cases.push(json("POST", "/v1/chat/completions", { messages: [{ role: "user", content: "hi" }], max_tokens: 1_000_000, stream: true }, chat, 404));
  cases.push(json("POST", "/v1/completions", { prompt: "hi", max_tokens: 1_000_000 }, chat, 404));
  // 4. Setup code: wrong codes from many addresses (the node is claimed: setup is closed for everyone).
  for (let i = 1; i <= 6; i++) cases.push(json("POST", "/api/setup/claim", { code: "AAAA-BBBB-CCCC-DDDD", username: "x", password: "some long password" }, {}, 403, { remoteAddress: `10.9.0.${i}` }));
  // 5. Model by path: a FIFO, a device, a directory, a file outside the import dirs, a missing file: one answer.
  for (const path of [ctx.fifoPath, "/dev/zero", "/etc", "/etc/passwd", "/nonexistent/model.gguf", "relative.gguf"]) cases.push(json("POST", "/api/models", { path, name: "fuzzed" }, key, 422));
  // 6. Hostile JSON: a null import line, meta 5,000 deep, a short-term value 10,000 deep, 10,000 tags.
  cases.push(ndjson("null\n", 400));
  const conv = { type: "conversation", id: "fuzz-deep", userId: "u", title: "t", createdAt: now, updatedAt: now, messages: [{ role: "user", content: "hi", createdAt: now, meta: "DEEP" }] };
  cases.push(ndjson(`${JSON.stringify(conv).replace('"DEEP"', deepObject(5000))}\n`, 400));
  cases.push(ndjson(`${JSON.stringify({ type: "memory", userId: "u", text: "x", source: "s", kind: "note", tags: Array.from({ length: 10_000 }, (_, i) => `t${i}`), importance: 0.5, createdAt: now })}\n`, 400));
  cases.push(json("PUT", "/api/memory/short-term/fuzz", `{"key":"k","value":${deepArray(10_000)}}`, key, 400, { route: "PUT /api/memory/short-term/:sessionId" }));
  cases.push(json("POST", "/api/memory", `{"text":"deep","meta":${deepObject(5000)}}`, key, 400));
  // 7. Logs: user content in a query string (it must not reach the log; here, that the answer is clean).
  cases.push({ method: "GET", url: "/api/memory/search?q=my%20secret%20diary%20entry", headers: { host: "localhost", ...admin }, kind: "finding", route: "GET /api/memory/search", expect: 200 });
  return cases;
}

/** Routes that read or write files by a name or path the caller gives (the traversal corpus targets these). */
export function fileRoutes(routes: readonly RouteInfo[]): RouteInfo[] {
  return routes.filter((x) => x.url.includes("*") || /models|backups|export|import|assets/.test(x.url));
}
