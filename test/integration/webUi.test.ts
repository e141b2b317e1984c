import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../helpers/testApp.js";

const host = { host: "localhost" };

async function claimed(t: TestApp): Promise<string> {
  return (await claimedWithCsrf(t)).cookie;
}

async function claimedWithCsrf(t: TestApp): Promise<{ cookie: string; csrf: string }> {
  const code = readFileSync(join(t.dataDir, "setup-code"), "utf8").trim();
  const r = await t.app.inject({ method: "POST", url: "/api/setup/claim", headers: { ...host, "content-type": "application/json" }, payload: { code, username: "admin", password: "a long enough password" } });
  expect(r.statusCode).toBe(201);
  const set = r.headers["set-cookie"];
  return { cookie: (Array.isArray(set) ? set : [String(set)]).map((c) => c.split(";")[0]).join("; "), csrf: (r.json() as { csrfToken: string }).csrfToken };
}

describe("web-ui plugin and status service", () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("serves the shell and assets without credentials, gzipped, with a strict CSP and ETags", async () => {
    t = await buildTestApp();
    const shell = await t.app.inject({ method: "GET", url: "/", headers: host });
    expect(shell.statusCode).toBe(200);
    expect(shell.headers["content-type"]).toMatch(/^text\/html/);
    expect(shell.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(shell.body).toContain('<main id="main"');

    const css = await t.app.inject({ method: "GET", url: "/assets/app.css", headers: { ...host, "accept-encoding": "gzip, br" } });
    expect(css.statusCode).toBe(200);
    expect(css.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(css.rawPayload).toString()).toContain(":root");
    const again = await t.app.inject({ method: "GET", url: "/assets/app.css", headers: { ...host, "if-none-match": String(css.headers.etag) } });
    expect(again.statusCode).toBe(304);

    const js = await t.app.inject({ method: "GET", url: "/assets/js/pages/chat.js", headers: host });
    expect(js.headers["content-type"]).toMatch(/^text\/javascript/);
  });

  it("answers only from its own files: traversal and unknown paths are 404", async () => {
    t = await buildTestApp();
    for (const url of ["/assets/../package.json", "/assets/%2e%2e/package.json", "/assets/..%2f..%2fpackage.json", "/assets/js/../../../package.json", "/assets/index.html", "/assets/nope.js", "/assets/%00"]) {
      const r = await t.app.inject({ method: "GET", url, headers: host });
      expect([400, 404], url).toContain(r.statusCode);
      expect(r.body).not.toContain('"dependencies"');
    }
  });

  it("refuses /api/status and /api/events without a session", async () => {
    t = await buildTestApp();
    for (const url of ["/api/status", "/api/events"]) {
      const r = await t.app.inject({ method: "GET", url, headers: host });
      expect(r.statusCode, url).toBe(401);
    }
  });

  it("reports hardware, tuning with reasons and live stats to a logged-in user", async () => {
    t = await buildTestApp();
    const cookie = await claimed(t);
    const r = await t.app.inject({ method: "GET", url: "/api/status", headers: { ...host, cookie } });
    expect(r.statusCode, r.body).toBe(200);
    const s = r.json() as { node: { name: string }; hardware: { cpu: { usableCpus: number } }; tuning: Array<{ key: string; reason: string }>; live: { memory: { totalBytes: number } | null; cpu: { percent: number | null } } };
    expect(s.hardware.cpu.usableCpus).toBeGreaterThan(0);
    expect(s.tuning.find((x) => x.key === "generationThreads")?.reason.length).toBeGreaterThan(0);
    expect(s.live.memory?.totalBytes).toBeGreaterThan(0);
  });

  it("streams live samples over SSE to a session, and ends the stream on shutdown", async () => {
    t = await buildTestApp();
    const cookie = await claimed(t);
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    const port = (t.app.server.address() as AddressInfo).port;
    const res = await fetch(`http://127.0.0.1:${port}/api/events`, { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("event: live")) text += new TextDecoder().decode((await reader.read()).value);
    const data = /event: live\ndata: (.*)\n/.exec(text)?.[1];
    expect(JSON.parse(data ?? "{}")).toHaveProperty("memory");
    t.app.liveEvents.publish("hello", { n: 1 });
    while (!text.includes("event: hello")) text += new TextDecoder().decode((await reader.read()).value);
    // close() must not hang on the open stream.
    await t.close();
    t = undefined;
    for (;;) if ((await reader.read()).done) break;
  });

  it("ends an open stream once its session is logged out", async () => {
    t = await buildTestApp();
    const { cookie, csrf } = await claimedWithCsrf(t);
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    const port = (t.app.server.address() as AddressInfo).port;
    const res = await fetch(`http://127.0.0.1:${port}/api/events`, { headers: { cookie } });
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("event: live")) text += new TextDecoder().decode((await reader.read()).value);
    const out = await t.app.inject({ method: "POST", url: "/api/auth/logout", headers: { ...host, cookie, "x-csrf-token": csrf } });
    expect(out.statusCode).toBe(200);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain("event: expired");
  });
});
