import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../helpers/testApp.js";
import { as, buildAuthTestApp, claim, fastAuth, login, type Session } from "./authHelpers.js";

interface EditableView {
  key: string;
  value: unknown;
  saved?: unknown;
  source: string | null;
  overriddenBy: { layer: string; name: string } | null;
  live: boolean;
  pending: boolean;
}

describe("changing settings from the panel", () => {
  let t: TestApp;
  let admin: Session;
  const file = () => join(t.dataDir, "settings.json");

  beforeAll(async () => {
    t = await buildAuthTestApp({ "federation.broker.port": 0 });
    admin = await claim(t.app, t.dataDir);
  });
  afterAll(() => t?.close());

  const put = (key: string, value: unknown, s: Session = admin) => t.app.inject({ method: "PUT", url: `/api/settings/${key}`, headers: as(s), payload: { value } });
  const editable = async () => (await t.app.inject({ url: "/api/settings/editable", headers: as(admin) })).json() as { file: string; restart: { available: boolean; pending: string[] }; settings: EditableView[] };

  it("lists the editable settings with where each running value comes from", async () => {
    const state = await editable();
    expect(state.file).toBe(file());
    expect(state.restart).toEqual({ available: false, pending: [] });
    const level = state.settings.find((s) => s.key === "log.level")!;
    // The test app sets log.level as a flag, which wins over the panel: the page says so.
    expect(level).toMatchObject({ value: "silent", source: "flag", overriddenBy: { layer: "flag", name: "--log-level" }, live: true });
    expect(state.settings.find((s) => s.key === "server.host")).toMatchObject({ value: "127.0.0.1", source: "default", overriddenBy: null, pending: false });
  });

  it("validates with the settings' own parser and writes nothing for a bad value", async () => {
    const bad = await put("auth.quotaTokensPerDay", -5);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: "SETTING_INVALID" });
    expect(bad.json().error.message).toContain("auth.quotaTokensPerDay");
    const badCron = await put("memory.backupSchedule", "every night");
    expect(badCron.statusCode).toBe(400);
    expect(badCron.json().error.message).toContain("cron");
    const badHost = await put("server.host", "not a host!");
    expect(badHost.statusCode).toBe(400);
    const notEditable = await put("paths.dataDir", "/tmp/elsewhere");
    expect(notEditable.statusCode).toBe(404);
    expect(notEditable.json().error.code).toBe("SETTING_NOT_EDITABLE");
    const secret = await put("federation.broker.password", "hunter22");
    expect(secret.statusCode).toBe(404);
    expect(() => statSync(file())).toThrow();
  });

  it("saves a valid value to <dataDir>/settings.json (0600), audits it, and marks it for a restart", async () => {
    const r = await put("server.host", "0.0.0.0");
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ key: "server.host", value: "127.0.0.1", saved: "0.0.0.0", pending: true });
    // A text box sends strings; integers and booleans are parsed as in env values.
    expect((await put("auth.quotaTokensPerDay", "20000")).json()).toMatchObject({ saved: 20000, pending: true });
    expect((await put("federation.enabled", true)).json()).toMatchObject({ saved: true, pending: true });
    expect((await put("memory.backupSchedule", "30 3 * * *")).json()).toMatchObject({ saved: "30 3 * * *" });
    expect(JSON.parse(readFileSync(file(), "utf8"))).toEqual({
      auth: { quotaTokensPerDay: 20000 },
      federation: { enabled: true },
      memory: { backupSchedule: "30 3 * * *" },
      server: { host: "0.0.0.0" },
    });
    expect(statSync(file()).mode & 0o777).toBe(0o600);
    expect((await editable()).restart.pending.sort()).toEqual(["auth.quotaTokensPerDay", "federation.enabled", "memory.backupSchedule", "server.host"]);

    const events = t.app.audit.list({ type: "settings.changed" });
    const host = events.find((e) => e.subject === "server.host")!;
    expect(host.details).toMatchObject({ from: "127.0.0.1", to: "0.0.0.0" });
    expect(host.actor).toBe(t.app.auth.users.byName("admin")!.id);
  });

  it("applies a live setting at once", async () => {
    expect((await put("log.level", "debug")).statusCode).toBe(200);
    expect(t.app.log.level).toBe("debug");
    await put("log.level", "silent");
    expect(t.app.log.level).toBe("silent");
  });

  it("resets a key back to the lower layers", async () => {
    const r = await t.app.inject({ method: "DELETE", url: "/api/settings/memory.backupSchedule", headers: as(admin) });
    expect(r.statusCode).toBe(200);
    expect(JSON.parse(readFileSync(file(), "utf8")).memory).toBeUndefined();
    expect(t.app.audit.list({ type: "settings.reset" })[0]?.subject).toBe("memory.backupSchedule");
  });

  it("says plainly that a node outside systemd cannot restart itself", async () => {
    const r = await t.app.inject({ method: "POST", url: "/api/settings/restart", headers: as(admin) });
    expect(r.statusCode).toBe(409);
    expect(r.json().error).toMatchObject({ code: "RESTART_UNAVAILABLE" });
    expect(r.json().error.hint).toContain("npm start");
  });

  it("is for admins only", async () => {
    await t.app.inject({ method: "POST", url: "/api/users", headers: as(admin), payload: { username: "user1", password: "user password 123", role: "user" } });
    const user = await login(t.app, "user1", "user password 123");
    expect((await put("server.host", "127.0.0.1", user)).statusCode).toBe(403);
    expect((await t.app.inject({ url: "/api/settings/editable", headers: as(user) })).statusCode).toBe(403);
    expect((await t.app.inject({ method: "PUT", url: "/api/settings/server.host", payload: { value: "0.0.0.0" } })).statusCode).toBe(401);
  });

  it("takes effect when the node starts again on the same data directory", async () => {
    await t.app.close();
    t = await buildTestApp({ ...fastAuth, "federation.broker.port": 0 }, { dataDir: t.dataDir });
    expect(t.config["server.host"]).toBe("0.0.0.0");
    expect(t.config["auth.quotaTokensPerDay"]).toBe(20000);
    expect(t.config["federation.enabled"]).toBe(true);
    admin = await login(t.app, "admin", "correct horse battery staple");
    const state = await editable();
    expect(state.restart.pending).toEqual([]);
    expect(state.settings.find((s) => s.key === "server.host")).toMatchObject({ value: "0.0.0.0", source: "panel", pending: false });
    const peers = (await t.app.inject({ url: "/api/federation/peers", headers: as(admin) })).json() as { self: { enabled: boolean } };
    expect(peers.self.enabled).toBe(true);
  });
});
