import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageVersion } from "../../core/packageVersion.js";
import { schemaMapOf } from "../../services/db/versionSnapshot.js";
import { emptyState, writeState } from "../../services/update/UpdateState.js";
import { buildTestApp } from "../helpers/testApp.js";
import { ADMIN, as, claim, fastAuth, login } from "./authHelpers.js";

const NEWER = "99.0.0";

describe("rollback: the old version starts on a database a newer one migrated", () => {
  let dir: string;
  let dataDir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "sovereign-rollback-"));
    dataDir = join(dir, "data");
    writeFileSync(join(dir, "cmdline"), "ro sovereign.slot=a\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const settings = (): Record<string, unknown> => ({
    ...fastAuth, "node.board": "x86_64", "update.slotA": join(dir, "slot-a"), "update.slotB": join(dir, "slot-b"), "update.bootedSlotSource": join(dir, "cmdline"),
  });

  it("restores the pre-update snapshot, keeps the newer file aside, and the rollback report says what was not carried back", async () => {
    // This version runs and is claimed: the admin exists before the update.
    let t = await buildTestApp(settings(), { dataDir });
    await claim(t.app, t.dataDir);
    await t.close();

    // What a newer version leaves behind: its snapshot of our file (taken before it migrated), then its own
    // migration and rows written after the update, and a trial of it on slot b that never became healthy.
    const db = join(dataDir, "sovereign.db");
    const snapDir = join(dataDir, "db-snapshots");
    const snap = join(snapDir, `snapshot-${packageVersion()}-to-${NEWER}.sqlite`);
    copyFileSync(db, snap);
    const mirror = join(dataDir, "audit", "checkpoint.json");
    expect(existsSync(mirror)).toBe(true);
    copyFileSync(mirror, `${snap}.audit-checkpoint.json`);
    // The newer version runs a while: audit events and a signed checkpoint beyond what the snapshot holds.
    t = await buildTestApp(settings(), { dataDir });
    await login(t.app, ADMIN.username, ADMIN.password);
    const newerHead = t.app.audit.checkpoint("test")?.seq ?? t.app.audit.head().seq;
    await t.close();
    expect((JSON.parse(readFileSync(mirror, "utf8")) as { seq: number }).seq).toBeGreaterThanOrEqual(newerHead);
    const raw = new BetterSqlite3(db);
    const fromSchema = schemaMapOf(raw);
    raw.exec("CREATE TABLE future_notes (id INTEGER PRIMARY KEY, text TEXT)");
    raw.prepare("INSERT INTO future_notes (text) VALUES (?), (?)").run("written by 99", "also by 99");
    raw.prepare("INSERT INTO schema_migrations (owner, version, name, applied_at) VALUES ('memory', 999, 'future', ?)").run(new Date().toISOString());
    raw.close();
    writeFileSync(join(snapDir, `snapshot-${packageVersion()}-to-${NEWER}.json`), JSON.stringify({ file: snap, fromVersion: packageVersion(), fromSchema, toVersion: NEWER, toSchema: null, takenAt: new Date().toISOString() }));
    writeFileSync(join(snapDir, "marker.json"), JSON.stringify({ softwareVersion: NEWER, schema: {}, at: new Date().toISOString() }));
    const state = emptyState();
    state.trial = { slot: "b", version: NEWER, since: new Date().toISOString() };
    writeState(join(dataDir, "update", "state.json"), state);

    // The old version starts again (the boot loader brought back slot a).
    t = await buildTestApp(settings(), { dataDir });
    try {
      expect(t.app.dbVersionChange.kind).toBe("restored");
      const s = await login(t.app, ADMIN.username, ADMIN.password);
      const status = (await t.app.inject({ method: "GET", url: "/api/update", headers: as(s) })).json() as {
        rollback: { failedVersion: string; failedSlot: string; reason: string; data: { keptAside: string; notCarriedBack: { table: string; rows: number }[]; summary: string } };
        slots: { slot: string; condition: string }[];
      };
      expect(status.rollback).toMatchObject({ failedVersion: NEWER, failedSlot: "b" });
      // Written after the update and not carried back: the newer version's own table, and its audit events and session.
      expect(status.rollback.data.notCarriedBack).toEqual(expect.arrayContaining([{ table: "future_notes", rows: 2 }, expect.objectContaining({ table: "audit_events" })]));
      expect(status.rollback.data.summary).toContain("2 in future_notes");
      expect(existsSync(status.rollback.data.keptAside)).toBe(true);
      expect(status.slots.find((x) => x.slot === "b")?.condition).toBe("bad");
      const audit = t.app.audit.list({ type: "update.rolled_back" });
      expect(audit).toHaveLength(1);
      // The audit mirror came back with the snapshot: the restored chain verifies.
      expect(t.app.audit.verify()).toMatchObject({ ok: true });
      // The restored file is the old schema: the newer version's table is gone from it.
      expect(t.app.db.sqlite.prepare("SELECT 1 FROM sqlite_master WHERE name = 'future_notes'").get()).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});
