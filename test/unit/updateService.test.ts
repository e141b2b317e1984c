import { createHash, randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateSecretKey, publicKeyOf } from "../../core/ed25519.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { writeBundle } from "../../image/lib/bundle.js";
import { resolveConfig } from "../../appliance/config/resolveConfig.js";
import { BOOT_FAILURE_NOTE, tryboot } from "../../core/bootSelection.js";
import { readBootFiles } from "../../services/update/applyBootOps.js";
import { updateServiceFromConfig } from "../../services/update/serviceFromConfig.js";
import { UpdateService, type UpdateAuditEvent } from "../../services/update/UpdateService.js";
import { handBundle } from "../helpers/handBundle.js";

const sha = (p: string): string => createHash("sha256").update(readFileSync(p)).digest("hex");

let dir: string;
let key: Uint8Array;
let events: UpdateAuditEvent[];
let boot: { slot: "a" | "b"; id: string };

/** A signed bundle of a root and boot parts (a UEFI kernel by default; a Pi's boot.vfat for its own boot partition). */
async function bundle(version: string, o: { board?: string; boot?: { name: string; bytes: Buffer }; verity?: { rootHash: string; hashOffset: number } } = {}): Promise<string> {
  // Half noise, half a repeated phrase: the root part is stored gzipped, as a filesystem's would be.
  writeFileSync(join(dir, "root"), Buffer.concat([randomBytes(128 * 1024), Buffer.alloc(128 * 1024, `root ${version} `)]));
  const part = o.boot ?? { name: "vmlinuz", bytes: Buffer.from(`kernel ${version}`) };
  writeFileSync(join(dir, part.name), part.bytes);
  const out = join(dir, `v${version}.sovupdate`);
  await writeBundle(out, { version, board: o.board ?? "x86_64-uefi", ...(o.verity ? { verity: o.verity } : {}) }, [
    { name: "rootfs.ext4", target: "root", path: join(dir, "root") },
    { name: part.name, target: "boot", path: join(dir, part.name) },
  ], key);
  return out;
}

/** The service as the node running `version` on the booted slot sees it (a UEFI board unless overridden). */
function service(version: string, o: Partial<ConstructorParameters<typeof UpdateService>[0]> = {}): UpdateService {
  return new UpdateService({
    dataDir: join(dir, "data"), board: "x86_64-uefi", runningVersion: version,
    trustedKeys: [Buffer.from(publicKeyOf(key)).toString("hex")],
    slots: { a: join(dir, "slot-a"), b: join(dir, "slot-b") },
    bootDir: join(dir, "esp"), bootMethod: "systemd-boot", bootTries: 3,
    cmdline: () => `ro sovereign.slot=${boot.slot}`, bootId: () => boot.id,
    audit: (e) => events.push(e),
    ...o,
  });
}

/** A reboot: a new boot id, and the slot the boot loader chose. */
function reboot(slot: "a" | "b"): void {
  boot = { slot, id: randomBytes(8).toString("hex") };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sovereign-update-"));
  key = generateSecretKey();
  events = [];
  boot = { slot: "a", id: "boot-1" };
  writeFileSync(join(dir, "slot-a"), randomBytes(512 * 1024));
  writeFileSync(join(dir, "slot-b"), randomBytes(512 * 1024));
  mkdirSync(join(dir, "esp/loader/entries"), { recursive: true });
  writeFileSync(join(dir, "esp/loader/entries/sovereign-a.conf"), "title a\nversion 1\noptions root=PARTLABEL=sovereign-root-a sovereign.slot=a\n");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/**
 * v2 applied to slot B and committed, then given up as the initramfs or the verity watcher does: B's entry out of
 * tries and `note` on the boot partition; the machine reboots into slot A. Returns the entries directory.
 */
async function givenUpV2(note: string): Promise<string> {
  const v1 = service("0.1.0");
  await v1.apply(await bundle("0.2.0"), { via: "cli", actor: "admin" });
  v1.restart("admin", () => undefined);
  reboot("b");
  service("0.2.0").markGood("system");
  const entries = join(dir, "esp/loader/entries");
  renameSync(join(entries, "sovereign-b.conf"), join(entries, "sovereign-b+0-1.conf"));
  writeFileSync(join(dir, "esp", BOOT_FAILURE_NOTE), note);
  reboot("a");
  return entries;
}

describe("update service", () => {
  it("does not call a trial committed when the boot partition does not show the commit (not mounted where the node looks)", async () => {
    const v1 = service("0.1.0");
    await v1.apply(await bundle("0.2.0"), { via: "cli", actor: "admin" });
    v1.restart("admin", () => undefined);
    reboot("b");
    const v2 = service("0.2.0");
    expect(v2.status().trial).toMatchObject({ slot: "b" });
    // What the node saw in the A/B e2e before the fix: an empty mount point instead of the ESP.
    rmSync(join(dir, "esp"), { recursive: true, force: true });
    mkdirSync(join(dir, "esp"));
    expect(() => v2.markGood("system")).toThrow(expect.objectContaining({ code: "UPDATE_BOOT_PARTITION" }));
    expect(v2.status().trial).toMatchObject({ slot: "b", version: "0.2.0" });
    expect(v2.status().lastResult?.outcome).not.toBe("committed");
    expect(events.some((e) => e.type === "update.committed")).toBe(false);
  });

  it("applies, restarts into the trial, marks good; then a failed trial rolls back and the status names the failed version", async () => {
    const v1 = service("0.1.0");
    const applied = await v1.apply(await bundle("0.2.0"), { via: "cli", actor: "admin" });
    expect(applied.slot).toBe("b");
    let st = v1.status();
    expect(st.pending).toMatchObject({ slot: "b", version: "0.2.0", restartRequestedAt: null });
    expect(st.slots.map((s) => [s.slot, s.version, s.condition, s.booted])).toEqual([["a", "0.1.0", "good", true], ["b", "0.2.0", "written", false]]);
    expect(readdirSync(join(dir, "esp/loader/entries")).sort()).toEqual(["sovereign-a.conf", "sovereign-b+3.conf"]);
    expect(readFileSync(join(dir, "esp/sovereign/b/vmlinuz"), "utf8")).toBe("kernel 0.2.0");

    let ran: readonly string[] = [];
    v1.restart("admin", (argv) => {
      ran = argv;
    });
    expect(ran).toEqual(["systemctl", "reboot"]);

    reboot("b");
    const v2 = service("0.2.0");
    st = v2.status();
    expect(st.trial).toMatchObject({ slot: "b", version: "0.2.0" });
    expect(st.bootedSlot).toBe("b");
    v2.markGood("system");
    expect(readdirSync(join(dir, "esp/loader/entries")).sort()).toEqual(["sovereign-a.conf", "sovereign-b.conf"]);
    expect(v2.status().lastResult).toMatchObject({ outcome: "committed", version: "0.2.0" });
    expect(() => v2.markGood("system")).toThrow(SovereignError);

    // v3 is written to slot a, the node restarts, and comes back on b: v3 never became healthy.
    await v2.apply(await bundle("0.3.0"), { via: "upload", actor: "admin" });
    v2.restart("admin", () => undefined);
    reboot("a");
    // The trial boot ran v3 (it is on trial) ...
    service("0.3.0").status();
    // ... and the boot loader, out of tries, brought back v2 on slot b.
    reboot("b");
    st = service("0.2.0").status();
    expect(st.rollback).toMatchObject({ failedVersion: "0.3.0", failedSlot: "a" });
    expect(st.rollback?.reason).toContain("never marked good");
    expect(st.slots.find((s) => s.slot === "a")?.condition).toBe("bad");
    expect(st.lastResult?.outcome).toBe("rolled-back");
    expect(st.counters.rollbacks).toBe(1);
    expect(events.map((e) => e.type)).toEqual([
      "update.attempt", "update.applied", "update.restart", "update.trial_started", "update.committed",
      "update.attempt", "update.applied", "update.restart", "update.trial_started", "update.rolled_back",
    ]);
  });

  it("a verity bundle's signed root hash goes into the trial's entry, and the booted node reports it", async () => {
    const verity = { rootHash: "7a".repeat(32), hashOffset: 128 * 1024 };
    const v1 = service("0.1.0");
    expect(v1.status().rootVerity).toBeNull();
    await v1.apply(await bundle("0.2.0", { verity }), { via: "cli", actor: "admin" });
    const entry = readFileSync(join(dir, "esp/loader/entries/sovereign-b+3.conf"), "utf8");
    const options = /^options (.*)$/m.exec(entry)?.[1] ?? "";
    expect(options).toContain(`root=/dev/mapper/sovslot sovereign.slot=b sovereign.roothash=${verity.rootHash} sovereign.hashoffset=131072 ro`);
    // The boot loader passes the entry's options: the node on slot B sees the root hash it was opened with.
    reboot("b");
    const v2 = service("0.2.0", { cmdline: () => `BOOT_IMAGE=/sovereign/b/vmlinuz ${options}` });
    expect(v2.status()).toMatchObject({ bootedSlot: "b", rootVerity: verity });
  });

  it("a committed slot the initramfs gave up (it did not verify) is recorded once as bad, its note removed, and the next update rewrites it", async () => {
    // Slot B's blocks changed on the disk: the initramfs marked its entry as out of tries, left its note and rebooted.
    const entries = await givenUpV2("slot=b\nreason=does not match its signed root hash (dm-verity refused its first blocks)\n");
    const back = service("0.1.0");
    let st = back.status();
    expect(st.rollback).toMatchObject({ failedVersion: "0.2.0", failedSlot: "b" });
    expect(st.rollback?.reason).toBe("slot b (0.2.0) does not match its signed root hash (dm-verity refused its first blocks) at boot: the initramfs gave it up and started slot a. Its disk holds changed blocks; the next update rewrites it.");
    expect(st.slots.map((x) => [x.slot, x.version, x.condition])).toEqual([["a", "0.1.0", "good"], ["b", "0.2.0", "bad"]]);
    expect(existsSync(join(dir, "esp", BOOT_FAILURE_NOTE))).toBe(false);
    expect(events.filter((e) => e.type === "update.slot_given_up")).toEqual([expect.objectContaining({ subject: "0.2.0", details: expect.objectContaining({ slot: "b", booted: "a" }) })]);
    // Read once: later status calls do not count it again.
    st = back.status();
    expect(st.counters.rollbacks).toBe(1);
    // The next update goes to slot B and replaces its given-up entry.
    const applied = await back.apply(await bundle("0.3.0"), { via: "cli", actor: "admin" });
    expect(applied.slot).toBe("b");
    expect(readdirSync(entries).sort()).toEqual(["sovereign-a.conf", "sovereign-b+3.conf"]);
  });

  it("a committed slot the running node gave up (dm-verity found a changed block while it ran) is reported as such", async () => {
    // What sovereign-verity-watch leaves (abLayout.ts verityWatchScript) before it reboots.
    await givenUpV2("slot=b\nreason=had a block that does not match its signed root hash (dm-verity, on a read)\nwhen=running\n");
    const st = service("0.1.0").status();
    expect(st.rollback?.reason).toBe("slot b (0.2.0) had a block that does not match its signed root hash (dm-verity, on a read) while it ran: the node gave it up and restarted into slot a. Its disk holds changed blocks; the next update rewrites it.");
    expect(st.slots.map((x) => [x.slot, x.version, x.condition])).toEqual([["a", "0.1.0", "good"], ["b", "0.2.0", "bad"]]);
    expect(events.find((e) => e.type === "update.slot_given_up")?.details).toMatchObject({ slot: "b", booted: "a", when: "running" });
  });

  it("a slot given up that boots again anyway (the other slot's trial out of tries) is shown as what runs, not as bad", async () => {
    await givenUpV2("slot=b\nreason=does not match its signed root hash (dm-verity refused its first blocks)\n");
    expect(service("0.1.0").status().slots.map((x) => [x.slot, x.condition])).toEqual([["a", "good"], ["b", "bad"]]);
    // B, given up, is what the boot loader starts next, and 0.2.0 runs from it.
    reboot("b");
    const st = service("0.2.0").status();
    expect(st.slots.map((x) => [x.slot, x.version, x.condition, x.booted])).toEqual([["a", "0.1.0", "good", false], ["b", "0.2.0", "good", true]]);
    // The rollback that gave it up stays on record.
    expect(st.rollback).toMatchObject({ failedSlot: "b", failedVersion: "0.2.0" });
  });

  it("a trial whose tries systemd-boot used up (watchdog resets, panics) is rolled back with that reason", async () => {
    const v1 = service("0.1.0");
    await v1.apply(await bundle("0.2.0"), { via: "cli" });
    v1.restart(null, () => undefined);
    reboot("b");
    expect(service("0.2.0").status().trial).toMatchObject({ slot: "b", version: "0.2.0" });
    // Each try reset before the health gate committed it; systemd-boot counted all three, then started slot a.
    const entries = join(dir, "esp/loader/entries");
    renameSync(join(entries, "sovereign-b+3.conf"), join(entries, "sovereign-b+0-3.conf"));
    reboot("a");
    const st = service("0.1.0").status();
    expect(st.rollback).toMatchObject({ failedVersion: "0.2.0", failedSlot: "b" });
    expect(st.rollback?.reason).toContain("systemd-boot used up its tries (a panic, a watchdog reset or no health in time)");
    expect(st.slots.find((x) => x.slot === "b")?.condition).toBe("bad");
  });

  it("a restart that comes straight back on the old slot is a rollback too", async () => {
    const v1 = service("0.1.0");
    await v1.apply(await bundle("0.2.0"), { via: "cli" });
    v1.restart(null, () => undefined);
    // Same boot: the service restarted, the machine did not. Nothing is decided yet.
    expect(service("0.1.0").status().rollback).toBeNull();
    reboot("a");
    const st = service("0.1.0").status();
    expect(st.rollback).toMatchObject({ failedVersion: "0.2.0", failedSlot: "b" });
    expect(st.pending).toBeNull();
  });

  it("a refused bundle is recorded and leaves the inactive slot untouched", async () => {
    const v1 = service("0.1.0");
    const good = await bundle("0.2.0");
    const buf = readFileSync(good);
    buf[buf.length - 100] = (buf[buf.length - 100] ?? 0) ^ 0xff;
    writeFileSync(good, buf);
    const before = sha(join(dir, "slot-b"));
    await expect(v1.apply(good, { via: "cli" })).rejects.toMatchObject({ code: "UPDATE_PART_CORRUPT" });
    expect(sha(join(dir, "slot-b"))).toBe(before);
    const st = v1.status();
    expect(st.lastResult).toMatchObject({ outcome: "refused", code: "UPDATE_PART_CORRUPT" });
    expect(st.pending).toBeNull();
    expect(st.slots.find((s) => s.slot === "b")?.condition).toBe("unknown");
    expect(events.map((e) => e.type)).toEqual(["update.attempt", "update.refused"]);
    expect(() => v1.restart(null, () => undefined)).toThrow(/no verified update/);
  });
});

describe("a signed bundle whose gzip root unpacks to more than its signed size", () => {
  it("is refused by the verify pass: slot B and the boot partition untouched, and the status says why", async () => {
    const KiB = 1024;
    const root = Buffer.alloc(1024 * KiB, "sovereign ");
    const bomb = join(dir, "bomb.sovupdate");
    // Everything it claims about its first 256 KiB is true; it just goes on for 1 MiB.
    handBundle(bomb, { version: "0.2.0", board: "x86_64-uefi" }, [
      { name: "rootfs.ext4", target: "root", stored: gzipSync(root), encoding: "gzip", size: 256 * KiB, sha256: createHash("sha256").update(root.subarray(0, 256 * KiB)).digest("hex") },
      { name: "vmlinuz", target: "boot", stored: Buffer.from("kernel 0.2.0") },
    ], key);
    const before = sha(join(dir, "slot-b"));
    const v1 = service("0.1.0");
    await expect(v1.apply(bomb, { via: "cli" })).rejects.toMatchObject({ code: "UPDATE_PART_UNPACK_FAILED", message: expect.stringContaining("unpacks to more than its signed 262144 bytes. Nothing was written.") });
    expect(sha(join(dir, "slot-b"))).toBe(before);
    expect(readdirSync(join(dir, "esp"))).toEqual(["loader"]);
    expect(readdirSync(join(dir, "esp/loader/entries"))).toEqual(["sovereign-a.conf"]);
    const st = v1.status();
    expect(st.lastResult).toMatchObject({ outcome: "refused", code: "UPDATE_PART_UNPACK_FAILED" });
    expect(st.slots.map((s) => [s.slot, s.condition])).toEqual([["a", "good"], ["b", "unknown"]]);
    expect(st.pending).toBeNull();
    expect(events.map((e) => e.type)).toEqual(["update.attempt", "update.refused"]);
    expect(() => v1.restart(null, () => undefined)).toThrow(/no verified update/);
    // One that unpacks to fewer bytes than signed, or to other bytes, is refused the same way.
    const short = join(dir, "short.sovupdate");
    handBundle(short, { version: "0.2.0", board: "x86_64-uefi" }, [
      { name: "rootfs.ext4", target: "root", stored: gzipSync(root.subarray(0, 100 * KiB)), encoding: "gzip", size: 256 * KiB, sha256: createHash("sha256").update(root.subarray(0, 256 * KiB)).digest("hex") },
      { name: "vmlinuz", target: "boot", stored: Buffer.from("kernel 0.2.0") },
    ], key);
    await expect(v1.apply(short, { via: "cli" })).rejects.toMatchObject({ code: "UPDATE_PART_UNPACK_FAILED", message: expect.stringContaining("short of its signed") });
    const other = join(dir, "other.sovupdate");
    handBundle(other, { version: "0.2.0", board: "x86_64-uefi" }, [
      { name: "rootfs.ext4", target: "root", stored: gzipSync(root.subarray(0, 256 * KiB)), encoding: "gzip", size: 256 * KiB, sha256: "00".repeat(32) },
      { name: "vmlinuz", target: "boot", stored: Buffer.from("kernel 0.2.0") },
    ], key);
    await expect(v1.apply(other, { via: "cli" })).rejects.toMatchObject({ code: "UPDATE_PART_UNPACK_FAILED", message: expect.stringContaining("other bytes than its signed sha256") });
    expect(sha(join(dir, "slot-b"))).toBe(before);
    // The next good bundle is written.
    await v1.apply(await bundle("0.2.0"), { via: "cli" });
    expect(v1.status().slots.find((s) => s.slot === "b")?.condition).toBe("written");
  });
});

describe("Raspberry Pi A/B: each slot has its own boot partition", () => {
  const fw = (): string => join(dir, "firmware");
  let vfat: Buffer;

  async function piBundle(version: string, vfatBytes = 128 * 1024 + 5): Promise<string> {
    vfat = randomBytes(vfatBytes);
    return bundle(version, { board: "rpi5", boot: { name: "boot.vfat", bytes: vfat } });
  }

  const piService = (version: string): UpdateService =>
    service(version, { board: "rpi5", bootSlots: { a: join(dir, "boot-a"), b: join(dir, "boot-b") }, bootDir: fw(), bootMethod: "tryboot", bootTries: 1 });

  beforeEach(() => {
    // p1: the autoboot partition, committed to slot A (partition 2); p2/p3: the slots' boot partitions.
    mkdirSync(fw());
    writeFileSync(join(fw(), "autoboot.txt"), "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=2\n");
    writeFileSync(join(dir, "boot-a"), randomBytes(256 * 1024));
    writeFileSync(join(dir, "boot-b"), randomBytes(256 * 1024));
  });

  it("writes boot.vfat whole onto slot B's boot partition, leaves slot A's, and arms tryboot for slot b", async () => {
    const bootA = sha(join(dir, "boot-a"));
    const v1 = piService("0.1.0");
    const r = await v1.apply(await piBundle("0.2.0"), { via: "cli" });
    expect(r.slot).toBe("b");
    expect(readFileSync(join(dir, "boot-b")).subarray(0, vfat.length).equals(vfat)).toBe(true);
    expect(readFileSync(join(dir, "slot-b")).subarray(0, 256 * 1024).equals(readFileSync(join(dir, "root")))).toBe(true);
    expect(sha(join(dir, "boot-a"))).toBe(bootA);
    // No boot.vfat as a file: the firmware partition holds autoboot.txt only.
    expect(readdirSync(fw())).toEqual(["autoboot.txt"]);
    expect(tryboot.inspect(readBootFiles(fw(), tryboot))).toEqual({ committed: "a", trial: "b", triesLeft: null });
    expect(v1.status().slots.map((s) => [s.slot, s.bootDevice, s.condition])).toEqual([["a", join(dir, "boot-a"), "good"], ["b", join(dir, "boot-b"), "written"]]);
  });

  it("refuses a boot partition too small for boot.vfat before writing either device of the slot", async () => {
    const before = [sha(join(dir, "slot-b")), sha(join(dir, "boot-b"))];
    const v1 = piService("0.1.0");
    await expect(v1.apply(await piBundle("0.2.0", 256 * 1024 + 1), { via: "cli" })).rejects.toMatchObject({ code: "UPDATE_SLOT_TOO_SMALL", message: expect.stringContaining(`boot partition ${join(dir, "boot-b")}`) });
    expect([sha(join(dir, "slot-b")), sha(join(dir, "boot-b"))]).toEqual(before);
    const st = v1.status();
    expect(st.lastResult).toMatchObject({ outcome: "refused", code: "UPDATE_SLOT_TOO_SMALL" });
    expect(st.slots.find((s) => s.slot === "b")?.condition).toBe("unknown");
    expect(st.pending).toBeNull();
    expect(tryboot.inspect(readBootFiles(fw(), tryboot))).toEqual({ committed: "a", trial: null, triesLeft: null });
  });

  it("a config that gives only one slot a boot partition is refused", () => {
    const base = { env: {}, cwd: dir, flags: { "paths.dataDir": join(dir, "data"), "node.board": "rpi5", "update.slotA": join(dir, "slot-a"), "update.slotB": join(dir, "slot-b") } };
    const only = resolveConfig({ ...base, flags: { ...base.flags, "update.bootSlotA": join(dir, "boot-a") } }).config;
    expect(() => updateServiceFromConfig(only, () => undefined)).toThrow(expect.objectContaining({ code: "CONFIG_INVALID", message: expect.stringContaining("update.bootSlotB") }));
    const both = resolveConfig({ ...base, flags: { ...base.flags, "update.bootSlotA": join(dir, "boot-a"), "update.bootSlotB": join(dir, "boot-b") } }).config;
    expect(updateServiceFromConfig(both, () => undefined).status().slots.map((s) => s.bootDevice)).toEqual([join(dir, "boot-a"), join(dir, "boot-b")]);
    expect(updateServiceFromConfig(resolveConfig(base).config, () => undefined).status().slots.map((s) => s.bootDevice)).toEqual([null, null]);
  });
});

describe("files root writes for the node", () => {
  it.runIf(process.getuid?.() === 0)("state written by root (the CLI) belongs to the data dir's owner, so the node's user can replace it", async () => {
    mkdirSync(join(dir, "data"), { recursive: true });
    chownSync(join(dir, "data"), 65534, 65534);
    const v1 = service("0.1.0");
    await v1.apply(await bundle("0.2.0"), { via: "cli" });
    for (const p of [join(dir, "data/update"), join(dir, "data/update/state.json")]) expect(statSync(p).uid).toBe(65534);
  });
});
