import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/testApp.js";
import { as, buildAuthTestApp, claim } from "./authHelpers.js";

const host = { host: "localhost" };

describe("limits on every route", () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("sends security headers on API, error and static responses", async () => {
    t = await buildAuthTestApp();
    for (const url of ["/healthz", "/api/status", "/no/such/route"]) {
      const res = await t.app.inject({ method: "GET", url, headers: host });
      expect(res.headers["x-content-type-options"], url).toBe("nosniff");
      expect(res.headers["content-security-policy"], url).toMatch(/frame-ancestors 'none'/);
      expect(res.headers["x-frame-options"], url).toBeDefined();
      expect(res.headers["referrer-policy"], url).toBe("no-referrer");
    }
  });

  it("refuses a body over the limit with 413 in the documented shape", async () => {
    t = await buildAuthTestApp({ "server.bodyLimitBytes": 4096 });
    const res = await t.app.inject({ method: "POST", url: "/api/auth/login", headers: { ...host, "content-type": "application/json" }, payload: JSON.stringify({ username: "x".repeat(10_000), password: "y" }) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: { code: "BODY_TOO_LARGE" } });
  });

  it("rate-limits per IP with 429 and Retry-After, counting each address apart and sparing loopback", async () => {
    t = await buildAuthTestApp({ "limits.ratePerIpPerMinute": 5 });
    const get = (remoteAddress: string) => t!.app.inject({ method: "GET", url: "/api/status", headers: host, remoteAddress });
    for (let i = 0; i < 5; i++) expect((await get("192.168.1.20")).statusCode).not.toBe(429);
    const limited = await get("192.168.1.20");
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(limited.json()).toMatchObject({ error: { code: "RATE_LIMITED" } });
    expect((await get("192.168.1.21")).statusCode).not.toBe(429);
    for (let i = 0; i < 8; i++) expect((await get("127.0.0.1")).statusCode).not.toBe(429);
    // /healthz always answers.
    expect((await t.app.inject({ method: "GET", url: "/healthz", remoteAddress: "192.168.1.20" })).statusCode).toBe(200);
  });

  it("rate-limits per API key, independently of the address", async () => {
    t = await buildAuthTestApp({ "limits.ratePerKeyPerMinute": 3, "limits.exemptLoopback": false });
    const admin = await claim(t.app, t.dataDir);
    const mk = async (name: string) => {
      const r = await t!.app.inject({ method: "POST", url: "/api/keys", headers: { ...host, ...as(admin) }, payload: { name, scopes: ["chat"] } });
      return (r.json() as { key: string }).key;
    };
    const [a, b] = [await mk("a"), await mk("b")];
    const get = (key: string, remoteAddress: string) => t!.app.inject({ method: "GET", url: "/api/status", headers: { ...host, authorization: `Bearer ${key}` }, remoteAddress });
    for (let i = 0; i < 3; i++) expect((await get(a, `10.0.0.${i + 1}`)).statusCode).toBe(200);
    expect((await get(a, "10.0.0.9")).statusCode).toBe(429);
    expect((await get(b, "10.0.0.9")).statusCode).toBe(200);
  });

  it("sheds load with 503 and Retry-After while the event loop is blocked, but /healthz still answers", async () => {
    t = await buildAuthTestApp({ "limits.maxEventLoopDelayMs": 50, "limits.retryAfterSeconds": 7 });
    // Block the loop across a whole sampling interval of under-pressure (1 s), then let it sample.
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      /* busy */
    }
    await new Promise((r) => setTimeout(r, 1100));
    let res = await t.app.inject({ method: "GET", url: "/api/status", headers: host });
    // The sample after the block may land in either interval; give it one more.
    if (res.statusCode !== 503) {
      const again = Date.now() + 1500;
      while (Date.now() < again) {
        /* busy */
      }
      await new Promise((r) => setTimeout(r, 50));
      res = await t.app.inject({ method: "GET", url: "/api/status", headers: host });
    }
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe("7");
    expect(res.json()).toMatchObject({ error: { code: "SERVICE_UNAVAILABLE" } });
    expect((await t.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
  });

  it("closes slow-header connections after the header timeout while other clients are served", async () => {
    t = await buildAuthTestApp({ "limits.headersTimeoutMs": 1000 });
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = t.app.server.address() as { port: number };
    const slow: Socket[] = [];
    const closed: Promise<string>[] = [];
    for (let i = 0; i < 100; i++) {
      const s = connect(port, "127.0.0.1");
      slow.push(s);
      let got = "";
      s.on("data", (d) => (got += d.toString()));
      s.on("error", () => {});
      closed.push(new Promise((resolve) => s.on("close", () => resolve(got))));
      s.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n");
    }
    // Trickle a header byte now and then, as a slowloris client does.
    const trickle = setInterval(() => {
      for (const s of slow) if (!s.destroyed) s.write("X-a: b\r\n");
    }, 200);
    try {
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        expect(res.status).toBe(200);
      }
      const answers = await Promise.all(closed);
      // Every slow connection was closed by the server, with 408 or without a word, never served.
      for (const a of answers) expect(a === "" || a.startsWith("HTTP/1.1 408")).toBe(true);
    } finally {
      clearInterval(trickle);
      for (const s of slow) s.destroy();
    }
  });
});
