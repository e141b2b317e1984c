import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/testApp.js";
import { ADMIN, as, buildAuthTestApp, claim, login, setupCodeOf, type Session } from "./authHelpers.js";

describe("login, sessions and CSRF", () => {
  let t: TestApp;
  let admin: Session;
  beforeEach(async () => {
    t = await buildAuthTestApp({ "auth.loginMaxFailures": 3, "auth.lockoutSeconds": 30 });
    admin = await claim(t.app, t.dataDir);
  });
  afterEach(async () => t.close());

  const tryLogin = (username: string, password: string, ip = "192.0.2.10") =>
    t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username, password }, remoteAddress: ip });

  it("gives the same answer for an unknown user and a wrong password", async () => {
    const unknown = await tryLogin("nobody", "whatever password");
    const wrong = await tryLogin(ADMIN.username, "not the password");
    expect(unknown.statusCode).toBe(401);
    expect(wrong.statusCode).toBe(401);
    const strip = (b: { requestId?: string }) => ({ ...b, requestId: undefined });
    expect(strip(unknown.json())).toEqual(strip(wrong.json()));
    expect(unknown.json().error.code).toBe("LOGIN_FAILED");
    expect(unknown.cookies).toEqual([]);
  });

  it("locks a user name after repeated failures, with Retry-After, even for the right password", async () => {
    for (let i = 0; i < 3; i++) expect((await tryLogin(ADMIN.username, "wrong password!")).statusCode).toBe(401);
    const locked = await tryLogin(ADMIN.username, ADMIN.password);
    expect(locked.statusCode).toBe(429);
    expect(locked.json().error.code).toBe("LOGIN_LOCKED");
    expect(Number(locked.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(locked.headers["retry-after"])).toBeLessThanOrEqual(30);
    // The same happens for a name that does not exist, so a lockout reveals nothing.
    for (let i = 0; i < 3; i++) await tryLogin("ghost", "wrong password!");
    expect((await tryLogin("ghost", "wrong password!")).statusCode).toBe(429);
    // Backoff: once the lock ends, the next failure locks for twice as long.
    t.app.db.sqlite.prepare("UPDATE auth_login_throttle SET locked_until = 0 WHERE key = 'user:admin'").run();
    const again = await tryLogin(ADMIN.username, "wrong password!");
    expect(again.statusCode).toBe(401);
    const row = t.app.db.sqlite.prepare("SELECT failures, locked_until, last_failure_at FROM auth_login_throttle WHERE key = 'user:admin'").get() as {
      failures: number;
      locked_until: number;
      last_failure_at: number;
    };
    expect(row.failures).toBe(4);
    expect(row.locked_until - row.last_failure_at).toBe(60_000);
  });

  it("sets HttpOnly, SameSite=Strict cookies, not Secure over plain HTTP", async () => {
    const res = await tryLogin(ADMIN.username, ADMIN.password);
    const session = res.cookies.find((c) => c.name === "sovereign_session")!;
    expect(session.httpOnly).toBe(true);
    expect(session.sameSite).toBe("Strict");
    expect(session.secure).toBeUndefined();
    const csrf = res.cookies.find((c) => c.name === "sovereign_csrf")!;
    expect(csrf.httpOnly).toBeUndefined();
    expect(csrf.value).toBe(res.json().csrfToken);
  });

  it("rotates the session at login and revokes the old one", async () => {
    const first = await login(t.app, ADMIN.username, ADMIN.password);
    const res = await t.app.inject({ method: "POST", url: "/api/auth/login", payload: ADMIN, headers: { cookie: first.cookie } });
    expect(res.statusCode).toBe(200);
    const second = res.cookies.find((c) => c.name === "sovereign_session")!.value;
    expect(first.cookie).not.toContain(second);
    const old = await t.app.inject({ url: "/api/auth/me", headers: { cookie: first.cookie } });
    expect(old.statusCode).toBe(401);
    expect(old.json().error.code).toBe("SESSION_EXPIRED");
    expect((await t.app.inject({ url: "/api/auth/me", headers: { cookie: `sovereign_session=${second}` } })).statusCode).toBe(200);
  });

  it("revokes on logout, server-side", async () => {
    const s = await login(t.app, ADMIN.username, ADMIN.password);
    const out = await t.app.inject({ method: "POST", url: "/api/auth/logout", headers: as(s) });
    expect(out.statusCode).toBe(200);
    // The browser is told to drop the cookie, but a copy kept by anyone no longer works.
    expect(out.cookies.find((c) => c.name === "sovereign_session")?.value).toBe("");
    expect((await t.app.inject({ url: "/api/auth/me", headers: { cookie: s.cookie } })).statusCode).toBe(401);
  });

  it("ends idle sessions and sessions past their absolute lifetime", async () => {
    const idle = await login(t.app, ADMIN.username, ADMIN.password);
    const old = await login(t.app, ADMIN.username, ADMIN.password);
    const db = t.app.db.sqlite;
    const ids = db.prepare("SELECT id FROM auth_sessions WHERE revoked_at IS NULL ORDER BY created_at").all() as { id: string }[];
    expect(ids.length).toBeGreaterThanOrEqual(2);
    const idleId = ids.at(-2)!.id;
    const oldId = ids.at(-1)!.id;
    db.prepare("UPDATE auth_sessions SET last_seen_at = last_seen_at - ? WHERE id = ?").run(121 * 60_000, idleId);
    db.prepare("UPDATE auth_sessions SET expires_at = ? WHERE id = ?").run(Date.now() - 1, oldId);
    for (const s of [idle, old]) {
      const res = await t.app.inject({ url: "/api/auth/me", headers: { cookie: s.cookie } });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe("SESSION_EXPIRED");
    }
    expect((await t.app.inject({ url: "/api/auth/me", headers: { cookie: admin.cookie } })).statusCode).toBe(200);
  });

  it("refuses state-changing requests without the CSRF token, with a wrong one, or from a foreign Origin", async () => {
    const body = { username: "eve", password: "eve password 123", role: "user" };
    const missing = await t.app.inject({ method: "POST", url: "/api/users", payload: body, headers: { cookie: admin.cookie } });
    expect(missing.statusCode).toBe(403);
    expect(missing.json().error.code).toBe("CSRF_FAILED");
    const wrong = await t.app.inject({ method: "POST", url: "/api/users", payload: body, headers: { cookie: admin.cookie, "x-csrf-token": "x".repeat(32) } });
    expect(wrong.statusCode).toBe(403);
    const foreign = await t.app.inject({ method: "POST", url: "/api/users", payload: body, headers: { ...as(admin), origin: "http://evil.example" } });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json().error.code).toBe("CSRF_FAILED");
    const crossSite = await t.app.inject({ method: "POST", url: "/api/users", payload: body, headers: { ...as(admin), "sec-fetch-site": "cross-site" } });
    expect(crossSite.statusCode).toBe(403);
    // Public routes refuse a foreign Origin too (login CSRF).
    const foreignLogin = await t.app.inject({ method: "POST", url: "/api/auth/login", payload: ADMIN, headers: { origin: "http://evil.example" } });
    expect(foreignLogin.statusCode).toBe(403);
    // Reads need no token; the same-origin page with its token may write.
    expect((await t.app.inject({ url: "/api/users", headers: { cookie: admin.cookie } })).statusCode).toBe(200);
    const ok = await t.app.inject({ method: "POST", url: "/api/users", payload: body, headers: { ...as(admin), origin: "http://localhost" } });
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).not.toHaveProperty("password_hash");
    expect(JSON.stringify(ok.json())).not.toContain("scrypt");
  });

  it("changes a password: the old one stops working and other sessions end", async () => {
    const other = await login(t.app, ADMIN.username, ADMIN.password);
    const bad = await t.app.inject({ method: "POST", url: "/api/auth/password", headers: as(admin), payload: { currentPassword: "nope nope nope", newPassword: "a brand new password" } });
    expect(bad.statusCode).toBe(401);
    const weak = await t.app.inject({ method: "POST", url: "/api/auth/password", headers: as(admin), payload: { currentPassword: ADMIN.password, newPassword: "short" } });
    expect(weak.statusCode).toBe(400);
    expect(weak.json().error.code).toBe("PASSWORD_WEAK");
    const res = await t.app.inject({ method: "POST", url: "/api/auth/password", headers: as(admin), payload: { currentPassword: ADMIN.password, newPassword: "a brand new password" } });
    expect(res.statusCode).toBe(200);
    expect((await t.app.inject({ url: "/api/auth/me", headers: { cookie: other.cookie } })).statusCode).toBe(401);
    expect((await t.app.inject({ url: "/api/auth/me", headers: { cookie: admin.cookie } })).statusCode).toBe(401);
    expect((await tryLogin(ADMIN.username, ADMIN.password)).statusCode).toBe(401);
    expect((await tryLogin(ADMIN.username, "a brand new password")).statusCode).toBe(200);
  });

  it("lets admins manage users and roles; others may not", async () => {
    const created = await t.app.inject({ method: "POST", url: "/api/users", headers: as(admin), payload: { username: "guest1", password: "guest password 1", role: "guest" } });
    expect(created.statusCode).toBe(201);
    const dup = await t.app.inject({ method: "POST", url: "/api/users", headers: as(admin), payload: { username: "GUEST1", password: "guest password 1", role: "guest" } });
    expect(dup.statusCode).toBe(409);
    const guest = await login(t.app, "guest1", "guest password 1");
    const me = (await t.app.inject({ url: "/api/auth/me", headers: as(guest) })).json();
    expect(me.scopes).toEqual(["chat", "memory:read"]);
    const forbidden = await t.app.inject({ url: "/api/users", headers: as(guest) });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().error.code).toBe("INSUFFICIENT_SCOPE");
    // Disabling a user ends their sessions at once.
    const id = created.json().id as string;
    expect((await t.app.inject({ method: "PATCH", url: `/api/users/${id}`, headers: as(admin), payload: { disabled: true } })).statusCode).toBe(200);
    expect((await t.app.inject({ url: "/api/auth/me", headers: as(guest) })).statusCode).toBe(401);
    // The last admin cannot be demoted or deleted.
    const adminId = (await t.app.inject({ url: "/api/auth/me", headers: as(admin) })).json().userId as string;
    const demote = await t.app.inject({ method: "PATCH", url: `/api/users/${adminId}`, headers: as(admin), payload: { role: "user" } });
    expect(demote.statusCode).toBe(409);
    expect(demote.json().error.code).toBe("LAST_ADMIN");
    expect((await t.app.inject({ method: "DELETE", url: `/api/users/${adminId}`, headers: as(admin) })).statusCode).toBe(409);
    expect((await t.app.inject({ method: "DELETE", url: `/api/users/${id}`, headers: as(admin) })).statusCode).toBe(200);
  });
});

describe("cookies under HTTPS", () => {
  it("marks cookies Secure when configured for a TLS front", async () => {
    const t = await buildAuthTestApp({ "auth.secureCookies": "always" });
    try {
      const res = await t.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code: setupCodeOf(t.dataDir), ...ADMIN } });
      expect(res.statusCode).toBe(201);
      expect(res.cookies.length).toBeGreaterThan(0);
      for (const c of res.cookies) expect(c.secure).toBe(true);
    } finally {
      await t.close();
    }
  });
});
