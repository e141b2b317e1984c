import { describe, expect, it } from "vitest";
import { Writable } from "node:stream";
import { pino } from "pino";
import { loggerOptions } from "../../appliance/logger.js";
import { as, buildAuthAppWith, cookieHeader, setupCodeOf } from "./authHelpers.js";

/** Every line the node logs, at the most verbose level, through the production redaction rules. */
function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  const logger = pino({ ...loggerOptions({ "log.level": "trace", "log.format": "json" }), level: "trace" }, stream);
  return { lines, logger };
}

describe("secrets never reach the log", () => {
  it("logs the setup code once, at warn, for the console; never passwords, keys, cookies or tokens", async () => {
    const { lines, logger } = capture();
    const t = await buildAuthAppWith(() => {}, {}, { logger });
    const secrets: string[] = [];
    try {
      const code = setupCodeOf(t.dataDir);
      const adminPw = "admin secret password 1";
      const userPw = "user secret password 2";
      const newPw = "changed secret password 3";
      secrets.push(adminPw, userPw, newPw, "wrong secret password 4");

      await t.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code: "WRNG-CODE-0000-0000", username: "admin", password: adminPw } });
      const claimed = await t.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code, username: "admin", password: adminPw } });
      expect(claimed.statusCode).toBe(201);
      const admin = { cookie: cookieHeader(claimed), csrf: claimed.json().csrfToken as string };
      secrets.push(...claimed.cookies.map((c) => c.value), admin.csrf);

      await t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username: "admin", password: "wrong secret password 4" } });
      await t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username: "nobody", password: "wrong secret password 4" } });
      expect((await t.app.inject({ method: "POST", url: "/api/users", headers: as(admin), payload: { username: "u1", password: userPw, role: "user" } })).statusCode).toBe(201);
      const login = await t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username: "u1", password: userPw } });
      secrets.push(...login.cookies.map((c) => c.value));
      const key = (await t.app.inject({ method: "POST", url: "/api/keys", headers: as(admin), payload: { name: "k", scopes: ["chat"] } })).json().key as string;
      secrets.push(key);
      await t.app.inject({ url: "/api/auth/me", headers: { authorization: `Bearer ${key}` } });
      await t.app.inject({ url: "/api/users", headers: { authorization: `Bearer ${key}` } });
      await t.app.inject({ url: "/api/auth/me", headers: { authorization: `Bearer ${key}x` } });
      await t.app.inject({ method: "POST", url: "/api/auth/password", headers: as(admin), payload: { currentPassword: adminPw, newPassword: newPw } });
      await t.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code, username: "late", password: adminPw } });

      expect(lines.length).toBeGreaterThan(20);
      const withCode = lines.filter((l) => l.includes(code) || l.includes(code.replace(/-/g, "")));
      expect(withCode).toHaveLength(1);
      expect(JSON.parse(withCode[0]!)).toMatchObject({ level: 40 });
      expect(JSON.parse(withCode[0]!).msg).toContain("Setup code");
      for (const secret of secrets) {
        expect(secret.length).toBeGreaterThan(8);
        const leaked = lines.filter((l) => l.includes(secret));
        expect({ secret: `${secret.slice(0, 4)}…`, leaked }).toEqual({ secret: `${secret.slice(0, 4)}…`, leaked: [] });
      }
      // The audit trail records the events, and no secrets either.
      const events = t.app.db.sqlite.prepare("SELECT * FROM audit_events").all() as Array<{ type: string }>;
      const types = new Set(events.map((e) => e.type));
      for (const type of ["auth.setup_claim_failed", "auth.setup_claimed", "auth.login_failed", "auth.login", "auth.user_created", "auth.key_created", "auth.password_changed"]) {
        expect(types).toContain(type);
      }
      const trail = JSON.stringify(events);
      for (const secret of [...secrets, code]) expect(trail.includes(secret)).toBe(false);
    } finally {
      await t.close();
    }
  });
});
