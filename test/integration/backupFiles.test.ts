import { readdirSync, statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/testApp.js";
import { backupDirOf } from "../../services/db/backups.js";
import { as, buildAuthTestApp, claim, type Session } from "./authHelpers.js";

/**
 * Issue 16, finding 7: backup files were 0644 (the node's whole database,
 * readable by any local user), and checking the copy left .partial-shm and
 * .partial-wal files behind.
 */
describe("backups at rest: 0600, and nothing left beside them", () => {
  let t: TestApp;
  let admin: Session;
  beforeAll(async () => {
    t = await buildAuthTestApp();
    admin = await claim(t.app, t.dataDir);
    // Something in the WAL, so the copy is made from a live database with pending pages.
    await t.app.inject({ method: "POST", url: "/api/memory", headers: as(admin), payload: { text: "a note to back up" } });
  });
  afterAll(async () => t?.close());

  it("each backup is a single 0600 file, and the directory holds nothing else", async () => {
    for (let i = 0; i < 2; i++) {
      const res = await t.app.inject({ method: "POST", url: "/api/backups", headers: as(admin) });
      expect(res.statusCode, res.body).toBe(201);
      const { backup } = res.json() as { backup: { path: string } };
      expect((statSync(backup.path).mode & 0o777).toString(8)).toBe("600");
    }
    const dir = backupDirOf(t.dataDir);
    const names = readdirSync(dir);
    expect(names.filter((n) => !/^sovereign-\d{8}T\d{6}\d{0,3}Z\.db$/.test(n))).toEqual([]);
    for (const n of names) expect((statSync(`${dir}/${n}`).mode & 0o777).toString(8), n).toBe("600");
    expect((statSync(dir).mode & 0o777).toString(8)).toBe("700");
  });
});
