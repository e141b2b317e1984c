import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateSecretKey, publicKeyOf } from "../../core/ed25519.js";
import { usbUpdateRule, usbUpdateService } from "../../image/lib/bundleUsbUnits.js";
import { writeBundle } from "../../image/lib/bundle.js";
import { resolveBoard } from "../../image/pipeline.js";
import { applyFromStick, pickStickBundle } from "../../services/update/usbStick.js";
import { UpdateService } from "../../services/update/UpdateService.js";

let dir: string;
let key: Uint8Array;
let stick: string;

async function bundle(name: string, version: string): Promise<void> {
  writeFileSync(join(dir, "root"), randomBytes(64 * 1024));
  await writeBundle(join(stick, name), { version, board: "x86_64" }, [{ name: "rootfs.ext4", target: "root", path: join(dir, "root") }], key);
}

const service = (): UpdateService => new UpdateService({
  dataDir: join(dir, "data"), board: "x86_64", runningVersion: "0.1.0", trustedKeys: [Buffer.from(publicKeyOf(key)).toString("hex")],
  slots: { a: join(dir, "slot-a"), b: join(dir, "slot-b") }, bootDir: null, bootMethod: "none", bootTries: 3,
  cmdline: () => "sovereign.slot=a", bootId: () => "boot-1", audit: () => undefined,
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sovereign-usb-"));
  key = generateSecretKey();
  stick = join(dir, "stick");
  mkdirSync(stick);
  for (const s of ["a", "b"]) writeFileSync(join(dir, `slot-${s}`), Buffer.alloc(128 * 1024));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("the SOVUPDATE stick", () => {
  it("picks the bundle that claims the highest version, a headerless file last", async () => {
    await bundle("a.sovupdate", "0.2.0");
    await bundle("b.sovupdate", "0.10.0");
    writeFileSync(join(stick, "c.sovupdate"), "junk");
    writeFileSync(join(stick, "notes.txt"), "x");
    expect(pickStickBundle(stick)).toBe(join(stick, "b.sovupdate"));
    expect(pickStickBundle(join(dir, "empty"))).toBeNull();
  });

  it("applies once: a stick left in is skipped at the next boot or hotplug while its version is pending", async () => {
    await bundle("v2.sovupdate", "0.2.0");
    const s = service();
    expect(await applyFromStick(s, stick)).toMatchObject({ action: "applied", version: "0.2.0", slot: "b" });
    expect(await applyFromStick(s, stick)).toMatchObject({ action: "skipped", reason: expect.stringContaining("waiting for a restart") });
    expect(s.status().counters.attempts).toBe(1);
    expect(await applyFromStick(s, join(dir, "nothing"))).toMatchObject({ action: "none" });
  });

  it("udev asks systemd for the service when the label appears; the service runs with the node's environment", () => {
    expect(usbUpdateRule()).toContain('ENV{ID_FS_LABEL}=="SOVUPDATE"');
    expect(usbUpdateRule()).toContain('ENV{SYSTEMD_WANTS}+="sovereign-usb-update.service"');
    const unit = usbUpdateService(resolveBoard("x86_64"));
    expect(unit).toContain("ExecStart=/usr/local/bin/sovereign update usb --json");
    expect(unit).toContain("Environment=SOVEREIGN_DATA_DIR=/var/lib/sovereign");
    expect(unit).toContain("Environment=SOVEREIGN_BOARD=x86_64");
  });
});
