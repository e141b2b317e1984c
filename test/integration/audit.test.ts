import BetterSqlite3 from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, runCli } from "../helpers/cli.js";
import type { TestApp } from "../helpers/testApp.js";
import { as, buildAuthTestApp, claim } from "./authHelpers.js";

describe("audit service", () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("records the setup claim and serves the log, its checkpoints and a verification to admins only", async () => {
    t = await buildAuthTestApp();
    const admin = await claim(t.app, t.dataDir);
    const headers = { host: "localhost", ...as(admin) };
    const list = await t.app.inject({ method: "GET", url: "/api/audit?limit=50", headers });
    expect(list.statusCode).toBe(200);
    const events = (list.json() as { events: Array<{ seq: number; type: string; details: unknown }> }).events;
    expect(events.length).toBeGreaterThan(0);
    expect(JSON.stringify(events)).not.toContain("correct horse battery staple");

    t.app.audit.checkpoint("test");
    const cps = await t.app.inject({ method: "GET", url: "/api/audit/checkpoints", headers });
    expect((cps.json() as { checkpoints: unknown[] }).checkpoints).toHaveLength(1);
    const verify = await t.app.inject({ method: "GET", url: "/api/audit/verify", headers });
    expect(verify.json()).toMatchObject({ ok: true, firstBadIndex: null, checkpoints: { valid: 2, invalid: 0 } });

    expect((await t.app.inject({ method: "GET", url: "/api/audit", headers: { host: "localhost" } })).statusCode).toBe(401);
    const key = await t.app.inject({ method: "POST", url: "/api/keys", headers, payload: { name: "chat", scopes: ["chat"] } });
    const chatKey = (key.json() as { key: string }).key;
    const denied = await t.app.inject({ method: "GET", url: "/api/audit", headers: { host: "localhost", authorization: `Bearer ${chatKey}` } });
    expect(denied.statusCode).toBe(403);
    expect((await t.app.inject({ method: "GET", url: "/api/audit?limit=0", headers })).statusCode).toBe(400);
  });
});

describe("sovereign audit verify", () => {
  let dataDir: string;
  beforeAll(() => {
    ensureBuilt();
    dataDir = mkdtempSync(join(tmpdir(), "sovereign-audit-cli-"));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const verify = () => {
    const r = runCli(["audit", "verify", "--json", "--data-dir", dataDir]);
    return { status: r.status, report: JSON.parse(r.stdout) as { ok: boolean; firstBadIndex: number | null; reason: string | null; events: number } };
  };

  it("passes on an untouched log, then names the first bad index after a change, a deletion and a truncation", async () => {
    const { buildTestApp } = await import("../helpers/testApp.js");
    const t = await buildTestApp({ "auth.scryptLogN": 14 }, { dataDir });
    for (let i = 1; i <= 30; i++) t.app.audit.record({ type: "test.event", actor: "system", details: { i } });
    await t.close(); // writes the shutdown checkpoint

    expect(verify()).toMatchObject({ status: 0, report: { ok: true, events: 30, firstBadIndex: null } });
    const text = runCli(["audit", "verify", "--data-dir", dataDir]);
    expect(text.stdout).toMatch(/audit log ok: 30 events/);

    const db = new BetterSqlite3(join(dataDir, "sovereign.db"));
    const snapshot = db.prepare("SELECT * FROM audit_events").all() as Record<string, unknown>[];
    const restore = () => {
      db.prepare("DELETE FROM audit_events").run();
      const ins = db.prepare("INSERT INTO audit_events (seq, ts, type, actor, subject, details, prev_hash, hash) VALUES (@seq, @ts, @type, @actor, @subject, @details, @prev_hash, @hash)");
      for (const row of snapshot) ins.run(row);
    };
    try {
      db.prepare("UPDATE audit_events SET actor = 'mallory' WHERE seq = 12").run();
      expect(verify()).toMatchObject({ status: 1, report: { ok: false, firstBadIndex: 12 } });
      const human = runCli(["audit", "verify", "--data-dir", dataDir]);
      expect(human.status).toBe(1);
      expect(human.stdout).toMatch(/BROKEN at index 12/);
      restore();

      db.prepare("DELETE FROM audit_events WHERE seq = 20").run();
      expect(verify()).toMatchObject({ status: 1, report: { ok: false, firstBadIndex: 20 } });
      restore();

      db.prepare("DELETE FROM audit_events WHERE seq > 25").run();
      db.prepare("DELETE FROM audit_checkpoints").run();
      const r = verify();
      expect(r).toMatchObject({ status: 1, report: { ok: false, firstBadIndex: 26 } });
      expect(r.report.reason).toMatch(/truncated/);
      restore();
    } finally {
      db.close();
    }
  });
});
