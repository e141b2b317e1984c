// The e2e helper that tells a wedged TCG guest from a slow one, on the serial log CI recorded (2026-12-07):
// a vCPU stuck in modprobe, then PID 1 frozen; and on a CI-like run's arm64 boot, a vCPU stuck in the initramfs's
// modprobe for 1002 s. A shorter soft lockup is no wedge: starved guests report them and go on.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { guestWedged, waitFor, type Vm } from "../e2e/imageQemu.js";

const recorded = readFileSync(join(import.meta.dirname, "../fixtures/qemu/tcg-soft-lockup-pid1-frozen.log"), "utf8");

function vmWithSerial(text: string): Vm {
  const serial0 = join(mkdtempSync(join(tmpdir(), "wedge-")), "serial0.log");
  writeFileSync(serial0, text);
  return { serial0, serial1: serial0, watchdog: false, exited: new Promise(() => {}) } as unknown as Vm;
}

const arm64 = readFileSync(join(import.meta.dirname, "../fixtures/qemu/tcg-arm64-modprobe-lockup.log"), "utf8");

describe("guestWedged", () => {
  it("names a PID 1 that froze after a soft lockup, from CI's serial log", () => {
    expect(guestWedged(vmWithSerial(recorded))).toBe("PID 1 froze after the guest kernel reported a soft lockup");
  });

  it("takes a soft lockup that has not stopped PID 1 for a slow guest, and an oops for a wedge only once it panicked", () => {
    const lockupOnly = recorded.slice(0, recorded.indexOf("INFO: task (sd-gens)"));
    expect(lockupOnly).toMatch(/soft lockup/);
    expect(guestWedged(vmWithSerial(lockupOnly))).toBeUndefined();
    const oops = "[    2.8] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\n";
    expect(guestWedged(vmWithSerial(oops))).toBeUndefined();
    expect(guestWedged(vmWithSerial(`${oops}[    2.9] Kernel panic - not syncing: Fatal exception in interrupt\n`))).toBe("the guest kernel oopsed and panicked");
  });

  it("names a vCPU stuck in one task for 300 s or more, from a CI-like run's arm64 boot (modprobe in the initramfs), and not one stuck for less", () => {
    expect(guestWedged(vmWithSerial(arm64))).toBe("a vCPU stuck in modprobe:369 for 1002 s (soft lockup)");
    const at = arm64.indexOf("stuck for 320s!");
    expect(at).toBeGreaterThan(0);
    expect(guestWedged(vmWithSerial(arm64.slice(0, at)))).toBeUndefined(); // 298 s at most so far
    expect(guestWedged(vmWithSerial(arm64.slice(0, arm64.indexOf("\n", at))))).toBe("a vCPU stuck in modprobe:369 for 320 s (soft lockup)");
  });

  it("ends a wait on a frozen PID 1 at once, naming it, instead of at the timeout", async () => {
    // A 10-minute wait: were it not cut short, the test's own timeout would fail it.
    await expect(waitFor("/healthz 200", 600_000, () => undefined, vmWithSerial(recorded))).rejects.toThrow(/^PID 1 froze after the guest kernel reported a soft lockup while waiting for \/healthz 200/);
  });
});
