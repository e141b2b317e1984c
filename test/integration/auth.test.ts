import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { statSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { TestApp } from "../helpers/testApp.js";
import { buildTestApp } from "../helpers/testApp.js";
import { ADMIN, as, buildAuthTestApp, claim, fastAuth, login, setupCodeOf } from "./authHelpers.js";

describe("first-run setup", () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await buildAuthTestApp();
  });
  afterEach(async () => t.close());

  it("writes the setup code 0600 and reports the node unclaimed", async () => {
    const path = join(t.dataDir, "setup-code");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(setupCodeOf(t.dataDir)).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    const res = await t.app.inject("/api/setup/status");
    expect(res.json()).toEqual({ claimed: false });
  });

  it("refuses a wrong code with a clear message and no detail", async () => {
    const res = await t.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code: "AAAA-BBBB-CCCC-DDDD", ...ADMIN } });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe("SETUP_CODE_INVALID");
    expect(res.body).not.toContain(setupCodeOf(t.dataDir));
  });

  it("lets exactly one of two concurrent claims win, then closes setup for good", async () => {
    const code = setupCodeOf(t.dataDir);
    const [a, b] = await Promise.all([
      t.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code, username: "alice", password: "alice password 1" } }),
      t.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code, username: "bob", password: "bob password 12" } }),
    ]);
    const codes = [a.statusCode, b.statusCode].sort();
    expect(codes).toEqual([201, 403]);
    const loser = a.statusCode === 403 ? a : b;
    expect(loser.json().error.code).toBe("SETUP_CLOSED");
    expect(existsSync(join(t.dataDir, "setup-code"))).toBe(false);
    const again = await t.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code, username: "carol", password: "carol password1" } });
    expect(again.statusCode).toBe(403);
    expect((await t.app.inject("/api/setup/status")).json()).toEqual({ claimed: true });
  });

  it("a claimed node stays claimed across restarts and writes no new code", async () => {
    await claim(t.app, t.dataDir);
    await t.app.close();
    const again = await buildTestApp(fastAuth, { dataDir: t.dataDir });
    try {
      expect(existsSync(join(t.dataDir, "setup-code"))).toBe(false);
      const res = await again.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code: "x", ...ADMIN } });
      expect(res.statusCode).toBe(403);
    } finally {
      await again.app.close();
    }
  });

  it("uses a pre-seeded code and replaces a weak one", async () => {
    await t.app.close();
    const seeded = "ABCD-EFGH-JKMN-PQRS";
    writeFileSync(join(t.dataDir, "setup-code"), `${seeded}\n`, { mode: 0o644 });
    const a = await buildTestApp(fastAuth, { dataDir: t.dataDir });
    expect(setupCodeOf(t.dataDir)).toBe(seeded);
    expect(statSync(join(t.dataDir, "setup-code")).mode & 0o777).toBe(0o600);
    await a.app.close();
    writeFileSync(join(t.dataDir, "setup-code"), "1234\n");
    const b = await buildTestApp(fastAuth, { dataDir: t.dataDir });
    expect(setupCodeOf(t.dataDir)).not.toBe("1234");
    await b.app.close();
  });

  it("the claimed admin is logged in and has a working session", async () => {
    const s = await claim(t.app, t.dataDir);
    const me = await t.app.inject({ url: "/api/auth/me", headers: { cookie: s.cookie } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ username: "admin", role: "admin", kind: "user" });
    // Logging in again works with the same password.
    const s2 = await login(t.app, ADMIN.username, ADMIN.password);
    const me2 = await t.app.inject({ url: "/api/auth/me", headers: as(s2) });
    expect(me2.json()).toMatchObject({ username: "admin", csrfToken: s2.csrf });
  });
});
