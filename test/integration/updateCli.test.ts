import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSecretKey, publicKeyOf } from "../../core/ed25519.js";
import { packageVersion } from "../../core/packageVersion.js";
import { writeBundle } from "../../image/lib/bundle.js";
import { runSourceCliSync } from "../helpers/cli.js";
import { buildTestApp } from "../helpers/testApp.js";

const sha = (p: string): string => createHash("sha256").update(readFileSync(p)).digest("hex");
const NEXT = `${packageVersion()}.1`;

describe("sovereign update (CLI): apply with progress, status --json, and the audit events the node imports", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let good: string;

  /** The real CLI, from the sources (the same commands `bin/sovereign.js` loads from dist). */
  const cli = (args: string[]) => runSourceCliSync(args, { env });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sovereign-update-cli-"));
    const key = generateSecretKey();
    for (const s of ["a", "b"]) writeFileSync(join(dir, `slot-${s}`), randomBytes(1024 * 1024));
    mkdirSync(join(dir, "esp/loader/entries"), { recursive: true });
    writeFileSync(join(dir, "esp/loader/entries/sovereign-a.conf"), "title a\nversion 1\noptions sovereign.slot=a\n");
    writeFileSync(join(dir, "cmdline"), "ro sovereign.slot=a\n");
    writeFileSync(join(dir, "root"), randomBytes(600 * 1024));
    good = join(dir, "next.sovupdate");
    await writeBundle(good, { version: NEXT, board: "x86_64" }, [{ name: "rootfs.ext4", target: "root", path: join(dir, "root") }], key);
    env = {
      SOVEREIGN_DATA_DIR: join(dir, "data"), SOVEREIGN_BOARD: "x86_64", SOVEREIGN_CONFIG: join(dir, "none.json"),
      SOVEREIGN_UPDATE_TRUSTED_KEYS: Buffer.from(publicKeyOf(key)).toString("hex"),
      SOVEREIGN_UPDATE_SLOT_A: join(dir, "slot-a"), SOVEREIGN_UPDATE_SLOT_B: join(dir, "slot-b"),
      SOVEREIGN_UPDATE_BOOT_DIR: join(dir, "esp"), SOVEREIGN_UPDATE_BOOT_METHOD: "systemd-boot", SOVEREIGN_UPDATE_CMDLINE: join(dir, "cmdline"),
    };
    writeFileSync(join(dir, "none.json"), "{}\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a tampered bundle with its code and exit 2, leaving slot B as it was", () => {
    const bad = readFileSync(good);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0x80;
    writeFileSync(join(dir, "bad.sovupdate"), bad);
    const before = sha(join(dir, "slot-b"));
    const r = cli(["update", "apply", join(dir, "bad.sovupdate"), "--json"]);
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: "UPDATE_PART_CORRUPT" } });
    expect(r.stderr).toContain("does not match its signed sha256");
    expect(sha(join(dir, "slot-b"))).toBe(before);
  });

  it("applies a good bundle with progress on stderr, and status --json shows it pending", () => {
    const r = cli(["update", "apply", good, "--json"]);
    expect(r.stderr).toContain(`verified: version ${NEXT} for x86_64`);
    expect(r.stderr).toMatch(/^write +100%/m);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ slot: "b", bytesWritten: 600 * 1024 });
    const s = cli(["update", "status", "--json"]);
    expect(s.status).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ bootedSlot: "a", pending: { slot: "b", version: NEXT }, lastResult: { outcome: "applied" }, counters: { attempts: 2 } });
    expect(readFileSync(join(dir, "slot-b")).subarray(0, 600 * 1024).equals(readFileSync(join(dir, "root")))).toBe(true);
  });

  it("the node moves the CLI's journalled events into its audit log at start", async () => {
    const t = await buildTestApp({ "node.board": "x86_64", "update.slotA": join(dir, "slot-a"), "update.slotB": join(dir, "slot-b"), "update.bootedSlotSource": join(dir, "cmdline") }, { dataDir: join(dir, "data") });
    try {
      const events = t.app.audit.list({ limit: 20 }).filter((e) => e.type.startsWith("update."));
      expect(events.map((e) => e.type).sort()).toEqual(["update.applied", "update.attempt", "update.attempt", "update.refused"]);
      expect(events.every((e) => e.details?.via === "cli")).toBe(true);
    } finally {
      await t.close();
    }
  });
});
