import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { Database } from "../../services/db/Database.js";
import { MemoryStore } from "../../services/memory/MemoryStore.js";
import { memoryMigrations } from "../../services/memory/migrations.js";
import { inCI, requireTools } from "../helpers/requireTool.js";
import { buildAuthTestApp, claim, as } from "./authHelpers.js";

const isRoot = process.getuid?.() === 0;
if (!isRoot) {
  if (inCI) throw new Error("the disk-full suite mounts a small filesystem and must run as root in CI");
  process.stderr.write("skipping: the disk-full suite needs root (it mounts a small ext4 image)\n");
}
const enabled = isRoot && requireTools("mkfs.ext4", "mount", "umount");

let root: string;
let mnt: string;

/** Fills the filesystem, leaving about `leaveBytes` free. */
function fill(leaveBytes: number): string {
  const st = statfsSync(mnt);
  const free = st.bavail * st.bsize;
  const filler = join(mnt, "filler");
  writeFileSync(filler, Buffer.alloc(Math.max(0, free - leaveBytes)));
  return filler;
}

describe.runIf(enabled)("a full disk", () => {
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "sovereign-diskfull-"));
    mnt = join(root, "mnt");
    mkdirSync(mnt);
    const img = join(root, "small.img");
    execFileSync("truncate", ["-s", "24M", img]);
    execFileSync("mkfs.ext4", ["-q", "-F", "-m", "0", img]);
    execFileSync("mount", ["-o", "loop", img, mnt]);
  });
  afterAll(() => {
    try {
      execFileSync("umount", [mnt]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("refuses writes with DISK_FULL, loses nothing committed, stays intact, and recovers when space returns", () => {
    const dbPath = join(mnt, "store", "sovereign.db");
    const db = Database.open(dbPath);
    db.migrate("memory", memoryMigrations);
    const store = new MemoryStore(db.sqlite);
    const filler = fill(256 * 1024);
    const committed: number[] = [];
    let error: unknown;
    for (let i = 0; i < 10_000 && !error; i++) {
      try {
        committed.push(...store.insertMany([{ userId: "local", text: `entry ${i} ${"x".repeat(20_000)} words ${i}`, source: "fill" }]));
      } catch (err) {
        error = err;
      }
    }
    expect(error).toBeInstanceOf(SovereignError);
    expect((error as SovereignError).code).toBe("DISK_FULL");
    expect((error as SovereignError).status).toBe(507);
    expect(committed.length).toBeGreaterThan(0);

    // Still readable and whole while full.
    expect(db.quickCheck()).toEqual([]);
    expect(store.count()).toBe(committed.length);
    db.close();

    // A fresh open (WAL replay) finds everything acknowledged and a sound file.
    const again = Database.open(dbPath);
    expect(again.integrityCheck()).toEqual([]);
    const present = new Set((again.sqlite.prepare("SELECT id FROM memories").raw().all() as Array<[number]>).map((r) => r[0]));
    expect(committed.filter((id) => !present.has(id))).toEqual([]);

    // Space returns: writes work again.
    rmSync(filler);
    const more = new MemoryStore(again.sqlite).insertMany([{ userId: "local", text: "after recovery", source: "fill" }]);
    expect(more.length).toBe(1);
    expect(again.integrityCheck()).toEqual([]);
    again.close();
    rmSync(join(mnt, "store"), { recursive: true, force: true });
  });

  it("answers the API with 507 DISK_FULL and keeps serving reads", async () => {
    const dataDir = join(mnt, "app");
    const app = await buildAuthTestApp({ "paths.dataDir": dataDir });
    try {
      const s = await claim(app.app, dataDir);
      const post = (text: string) => app.app.inject({ method: "POST", url: "/api/memory", headers: as(s), payload: { text } });
      expect((await post("written before the disk filled up")).statusCode).toBe(201);
      const filler = fill(128 * 1024);
      let last = 201;
      let body = "";
      for (let i = 0; i < 500 && last === 201; i++) {
        const r = await post(`filler memory ${i} ${"y".repeat(50_000)}`);
        last = r.statusCode;
        body = r.body;
      }
      expect(last, body).toBe(507);
      expect(JSON.parse(body).error.code).toBe("DISK_FULL");
      const search = await app.app.inject({ url: "/api/memory/search?q=disk%20filled", headers: as(s) });
      expect(search.statusCode).toBe(200);
      expect(search.json().hits.length).toBe(1);
      rmSync(filler);
      expect((await post("written after space returned")).statusCode).toBe(201);
    } finally {
      await app.close();
    }
    const db = Database.open(join(dataDir, "sovereign.db"));
    try {
      expect(db.integrityCheck()).toEqual([]);
    } finally {
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
