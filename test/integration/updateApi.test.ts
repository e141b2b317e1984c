import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSecretKey, publicKeyOf } from "../../core/ed25519.js";
import { packageVersion } from "../../core/packageVersion.js";
import { writeBundle } from "../../image/lib/bundle.js";
import type { TestApp } from "../helpers/testApp.js";
import { as, buildAuthTestApp, claim, type Session } from "./authHelpers.js";

const sha = (p: string): string => createHash("sha256").update(readFileSync(p)).digest("hex");

/** A version above the running one, so the bundle is an upgrade whatever package.json says. */
const NEXT = `${packageVersion()}.1`;

describe("update service over HTTP: upload, progress, verified manifest, restart, audit and metrics", () => {
  let dir: string;
  let t: TestApp;
  let admin: Session;
  let key: Uint8Array;
  let good: Buffer;

  async function bundle(version: string): Promise<Buffer> {
    writeFileSync(join(dir, "root"), randomBytes(1024 * 1024 + 3));
    writeFileSync(join(dir, "vmlinuz"), "kernel");
    const out = join(dir, `b-${version}`);
    await writeBundle(out, { version, board: "x86_64" }, [
      { name: "rootfs.ext4", target: "root", path: join(dir, "root") },
      { name: "vmlinuz", target: "boot", path: join(dir, "vmlinuz") },
    ], key);
    return readFileSync(out);
  }

  async function waitApplied(): Promise<{ phase: string; manifest: { version: string } | null; error: { code: string } | null }> {
    for (;;) {
      const r = await t.app.inject({ method: "GET", url: "/api/update", headers: as(admin) });
      const p = (r.json() as { progress: { phase: string; manifest: { version: string } | null; error: { code: string } | null } }).progress;
      if (p.phase === "done" || p.phase === "failed") return p;
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  const upload = (body: Buffer, query = ""): Promise<LightMyRequestResponse> =>
    t.app.inject({ method: "POST", url: `/api/update/bundle${query}`, headers: { ...as(admin), "content-type": "application/octet-stream" }, payload: body });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sovereign-update-api-"));
    key = generateSecretKey();
    for (const s of ["a", "b"]) writeFileSync(join(dir, `slot-${s}`), randomBytes(2 * 1024 * 1024));
    mkdirSync(join(dir, "esp/loader/entries"), { recursive: true });
    writeFileSync(join(dir, "esp/loader/entries/sovereign-a.conf"), "title a\nversion 1\noptions sovereign.slot=a\n");
    writeFileSync(join(dir, "cmdline"), "ro sovereign.slot=a\n");
    t = await buildAuthTestApp({
      "node.board": "x86_64",
      "update.trustedKeys": [Buffer.from(publicKeyOf(key)).toString("hex")],
      "update.slotA": join(dir, "slot-a"), "update.slotB": join(dir, "slot-b"),
      "update.bootDir": join(dir, "esp"), "update.bootMethod": "systemd-boot",
      "update.bootedSlotSource": join(dir, "cmdline"),
      "update.rebootCommand": ["touch", join(dir, "rebooted")],
      "update.maxBundleBytes": 4 * 1024 * 1024,
    });
    admin = await claim(t.app, t.dataDir);
    good = await bundle(NEXT);
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a tampered upload with a coded error and leaves the inactive slot unchanged", async () => {
    const before = sha(join(dir, "slot-b"));
    const bad = Buffer.from(good);
    bad[bad.length - 10] = (bad[bad.length - 10] ?? 0) ^ 0xff;
    expect((await upload(bad)).statusCode).toBe(202);
    const p = await waitApplied();
    expect(p).toMatchObject({ phase: "failed", error: { code: "UPDATE_PART_CORRUPT" }, manifest: null });
    expect(sha(join(dir, "slot-b"))).toBe(before);
    // The upload is stored once, then removed: no copy is left in the data dir.
    expect(readdirSync(join(t.dataDir, "update")).filter((f) => f.startsWith("upload"))).toEqual([]);
  });

  it("refuses an upload above update.maxBundleBytes before storing it", async () => {
    const r = await upload(Buffer.alloc(4 * 1024 * 1024 + 1));
    expect(r.statusCode).toBe(413);
    expect(r.json()).toMatchObject({ error: { code: "UPDATE_UPLOAD_TOO_LARGE" } });
  });

  it("applies an upload, shows the verified manifest and the pending slot, and restarts into it", async () => {
    expect((await upload(good)).statusCode).toBe(202);
    const p = await waitApplied();
    expect(p.phase).toBe("done");
    expect(p.manifest?.version).toBe(NEXT);
    const status = (await t.app.inject({ method: "GET", url: "/api/update", headers: as(admin) })).json() as { pending: { slot: string; version: string }; slots: { slot: string; condition: string; booted: boolean }[]; lastResult: { outcome: string } };
    expect(status.pending).toMatchObject({ slot: "b", version: NEXT });
    expect(status.slots.map((s) => [s.slot, s.condition, s.booted])).toEqual([["a", "good", true], ["b", "written", false]]);
    expect(status.lastResult.outcome).toBe("applied");
    expect(existsSync(join(dir, "esp/loader/entries/sovereign-b+3.conf"))).toBe(true);

    const r = await t.app.inject({ method: "POST", url: "/api/update/restart", headers: as(admin) });
    expect(r.statusCode).toBe(202);
    for (let i = 0; i < 200 && !existsSync(join(dir, "rebooted")); i++) await new Promise((res) => setTimeout(res, 20));
    expect(existsSync(join(dir, "rebooted"))).toBe(true);

    const types = t.app.audit.list({ limit: 50 }).map((e) => e.type).filter((x) => x.startsWith("update."));
    expect(types.sort()).toEqual(["update.applied", "update.attempt", "update.attempt", "update.refused", "update.restart"]);
    const metrics = (await t.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).toMatch(/^sovereign_update_attempts_total 2$/m);
    expect(metrics).toMatch(/^sovereign_update_results_total\{outcome="refused"\} 1$/m);
    expect(metrics).toMatch(/^sovereign_update_rollbacks_total 0$/m);
  });

  it("mark-good answers a coded 409 when the booted slot is not on trial", async () => {
    const r = await t.app.inject({ method: "POST", url: "/api/update/mark-good", headers: as(admin) });
    expect(r.statusCode).toBe(409);
    expect(r.json()).toMatchObject({ error: { code: "UPDATE_NO_TRIAL" } });
  });
});
