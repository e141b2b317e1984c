import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { statSync } from "node:fs";
import { join } from "node:path";
import type { TestApp } from "../helpers/testApp.js";
import { ConsoleAdmin } from "../../services/auth/consoleAdmin.js";
import { ADMIN, buildAuthTestApp, claim, login, setupCodeOf } from "./authHelpers.js";
import { sourceCli } from "../helpers/cli.js";

describe("console administration (sovereign user …, sovereign setup-code)", () => {
  let t: TestApp;
  let consoleAdmin: ConsoleAdmin;
  beforeEach(async () => {
    t = await buildAuthTestApp();
    consoleAdmin = new ConsoleAdmin(t.config);
  });
  afterEach(async () => {
    consoleAdmin.close();
    await t.close();
  });

  it("regenerates the setup code: the old one stops working in the running node", async () => {
    const old = setupCodeOf(t.dataDir);
    expect(consoleAdmin.setupCode(false).code).toBe(old);
    const fresh = consoleAdmin.setupCode(true).code;
    expect(fresh).not.toBe(old);
    expect(statSync(join(t.dataDir, "setup-code")).mode & 0o777).toBe(0o600);
    const res = await t.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code: old, ...ADMIN } });
    expect(res.statusCode).toBe(401);
    await claim(t.app, t.dataDir);
    expect(() => consoleAdmin.setupCode(false)).toThrow(expect.objectContaining({ code: "SETUP_CLOSED" }));
  });

  it("resets a forgotten password and ends that user's sessions", async () => {
    const s = await claim(t.app, t.dataDir);
    const r = await consoleAdmin.resetPassword("admin");
    expect(r.generatedPassword).toHaveLength(20);
    expect(r.sessionsEnded).toBe(1);
    expect((await t.app.inject({ url: "/api/auth/me", headers: { cookie: s.cookie } })).statusCode).toBe(401);
    await login(t.app, "admin", r.generatedPassword!);
    await expect(consoleAdmin.resetPassword("nobody")).rejects.toMatchObject({ code: "USER_NOT_FOUND" });
    await expect(consoleAdmin.resetPassword("admin", "short")).rejects.toMatchObject({ code: "PASSWORD_WEAK" });
  });

  it("an admin created at the console closes setup", async () => {
    await consoleAdmin.create("root", "admin", "console password 1");
    const res = await t.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code: "whatever", ...ADMIN } });
    expect(res.statusCode).toBe(403);
    await login(t.app, "root", "console password 1");
    expect(consoleAdmin.list().map((u) => [u.username, u.role])).toEqual([["root", "admin"]]);
  });

  it("runs as the real CLI", () => {
    const env = { SOVEREIGN_DATA_DIR: t.dataDir, SOVEREIGN_SCRYPT_LOG_N: "14" };
    const cli = (...args: string[]) => sourceCli(args, { env });
    expect(JSON.parse(cli("setup-code", "--json")).code).toBe(setupCodeOf(t.dataDir));
    const created = JSON.parse(cli("user", "create", "cli-user", "--role", "guest", "--json"));
    expect(created).toMatchObject({ username: "cli-user", role: "guest" });
    expect(created.password).toHaveLength(20);
    const piped = sourceCli(["user", "reset-password", "cli-user", "--password-stdin", "--json"], { env, input: "a piped password\n" });
    expect(JSON.parse(piped)).toEqual({ username: "cli-user", sessionsEnded: 0 });
    expect(consoleAdmin.list()).toEqual([expect.objectContaining({ username: "cli-user", role: "guest" })]);
  });
});
