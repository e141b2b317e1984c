import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/testApp.js";
import { ADMIN, buildAuthTestApp, setupCodeOf } from "./authHelpers.js";

const MAX = 3;

/**
 * Issue 16, finding 4: the setup-code lock was one global key, so five wrong
 * codes from anywhere on the LAN made the owner's right code fail with 429.
 * Now each address has its own lock, a ceiling over all addresses stops a
 * spray, and neither the console side (loopback) nor a new code is held by it.
 */
describe("setup-code lockout is per source, with a ceiling the console gets past", () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await buildAuthTestApp({ "auth.loginMaxFailures": MAX, "limits.ratePerIpPerMinute": 100_000 });
  });
  afterEach(async () => t?.close());

  const claimFrom = (ip: string, code: string) =>
    t.app.inject({ method: "POST", url: "/api/setup/claim", remoteAddress: ip, payload: { code, ...ADMIN } });

  it("wrong codes from a neighbour lock only the neighbour; the owner's right code still claims", async () => {
    for (let i = 0; i < MAX; i++) expect((await claimFrom("192.168.1.66", "AAAA-BBBB-CCCC-DDDD")).statusCode).toBe(401);
    const neighbour = await claimFrom("192.168.1.66", setupCodeOf(t.dataDir));
    expect(neighbour.statusCode).toBe(429);
    expect(neighbour.json().error.code).toBe("LOGIN_LOCKED");
    expect((await claimFrom("192.168.1.10", setupCodeOf(t.dataDir))).statusCode).toBe(201);
  });

  it("a spray from many addresses hits the ceiling; the console (loopback) still claims", async () => {
    let sent = 0;
    for (let host = 1; sent < MAX * 20; host++) for (let i = 0; i < MAX && sent < MAX * 20; i++, sent++) await claimFrom(`10.0.0.${host}`, "AAAA-BBBB-CCCC-DDDD");
    const lan = await claimFrom("192.168.1.10", setupCodeOf(t.dataDir));
    expect(lan.statusCode, lan.body).toBe(429);
    expect((await claimFrom("127.0.0.1", setupCodeOf(t.dataDir))).statusCode).toBe(201);
  });

  it("a new code (console or physical-presence recovery) lifts every setup lock", async () => {
    for (let host = 1; host <= 20; host++) for (let i = 0; i < MAX; i++) await claimFrom(`10.0.1.${host}`, "AAAA-BBBB-CCCC-DDDD");
    expect((await claimFrom("192.168.1.10", setupCodeOf(t.dataDir))).statusCode).toBe(429);
    t.app.auth.regenerateSetupCode();
    expect((await claimFrom("192.168.1.10", setupCodeOf(t.dataDir))).statusCode).toBe(201);
  });
});
