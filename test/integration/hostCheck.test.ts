import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostname } from "node:os";
import type { TestApp } from "../helpers/testApp.js";
import { interfaceAddresses } from "../../services/auth/hostCheck.js";
import { as, buildAuthTestApp, claim, type Session } from "./authHelpers.js";

describe("Host header check (DNS rebinding) and no CORS", () => {
  let t: TestApp;
  let admin: Session;
  beforeAll(async () => {
    t = await buildAuthTestApp({ "server.allowedHosts": "ai.home.arpa,Sovereign.Example" });
    admin = await claim(t.app, t.dataDir);
  });
  afterAll(async () => t.close());

  const get = (host: string, url = "/healthz", headers: Record<string, string> = {}) => t.app.inject({ url, headers: { ...headers, host } });

  it("accepts the node's own names, addresses, localhost and configured names", async () => {
    const short = hostname().split(".")[0]!;
    const hosts = [
      "localhost", "localhost:8080", "127.0.0.1", "127.0.0.1:8080", "[::1]:8080",
      short, `${short}.local`, `${short}.local:8080`, `${short.toUpperCase()}.LOCAL`,
      "ai.home.arpa", "sovereign.example:8443",
      ...interfaceAddresses().map((a) => (a.includes(":") ? `[${a}]:8080` : `${a}:8080`)),
    ];
    for (const host of hosts) {
      const res = await get(host);
      expect({ host, status: res.statusCode }).toEqual({ host, status: 200 });
    }
  });

  it("refuses any other Host with 400 HOST_NOT_ALLOWED, even with a valid session", async () => {
    for (const host of ["evil.example", "evil.example:8080", "localhost.evil.example", "192.0.2.1", "[2001:db8::1]", "a b", "sovereign.local.evil.example"]) {
      const res = await get(host);
      expect({ host, status: res.statusCode }).toEqual({ host, status: 400 });
      expect(res.json().error.code).toBe("HOST_NOT_ALLOWED");
    }
    const rebound = await get("attacker.example", "/api/auth/me", as(admin));
    expect(rebound.statusCode).toBe(400);
    expect(rebound.body).not.toContain("admin");
  });

  it("sends no CORS headers to other origins, and answers no preflight", async () => {
    const res = await get("localhost", "/api/auth/me", { ...as(admin), origin: "http://evil.example" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    expect(res.headers["access-control-allow-credentials"]).toBeUndefined();
    const pre = await t.app.inject({
      method: "OPTIONS",
      url: "/api/users",
      headers: { host: "localhost", origin: "http://evil.example", "access-control-request-method": "POST" },
    });
    expect(pre.statusCode).toBeGreaterThanOrEqual(400);
    expect(pre.headers["access-control-allow-origin"]).toBeUndefined();
    expect(pre.headers["access-control-allow-methods"]).toBeUndefined();
  });
});
