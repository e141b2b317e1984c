import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyBootOps, readBootFiles } from "../../services/update/applyBootOps.js";
import { autobootTxt, bootedSlotOf, slotVerityOf, systemdBoot, tryboot, withSlotRoot } from "../../core/bootSelection.js";

let esp: string;
beforeEach(() => {
  esp = mkdtempSync(join(tmpdir(), "sovereign-esp-"));
});
afterEach(() => rmSync(esp, { recursive: true, force: true }));

const entriesDir = (): string[] => readdirSync(join(esp, "loader/entries")).sort();

describe("systemd-boot boot counting", () => {
  beforeEach(() => {
    mkdirSync(join(esp, "loader/entries"), { recursive: true });
    writeFileSync(join(esp, "loader/entries/sovereign-a.conf"), "title Sovereign Node 0.1.0 (slot A)\nsort-key sovereign\nversion 1\nlinux /sovereign/a/vmlinuz\ninitrd /sovereign/a/initrd.img\noptions root=PARTLABEL=sovereign-root-a ro quiet sovereign.slot=a\n");
    writeFileSync(join(esp, "loader/loader.conf"), "timeout 3\neditor no\n");
  });

  it("arms the new slot as a +3 entry of a newer generation, keeping the old entry", () => {
    applyBootOps(esp, systemdBoot.arm(readBootFiles(esp, systemdBoot), { slot: "b", version: "0.2.0", tries: 3, verity: null }));
    expect(entriesDir()).toEqual(["sovereign-a.conf", "sovereign-b+3.conf"]);
    const b = readFileSync(join(esp, "loader/entries/sovereign-b+3.conf"), "utf8");
    expect(b).toContain("version 2\n");
    expect(b).toContain("linux /sovereign/b/vmlinuz\n");
    // A bundle without verity: its slot's root by GPT name, read-write; the other options are kept in order.
    expect(b).toContain("options root=PARTLABEL=sovereign-root-b sovereign.slot=b rw quiet\n");
    const loader = readFileSync(join(esp, "loader/loader.conf"), "utf8");
    expect(loader.split("\n")[0]).toBe("default sovereign-*");
    expect(loader).toContain("editor no");
    expect(systemdBoot.inspect(readBootFiles(esp, systemdBoot))).toEqual({ committed: "a", trial: "b", triesLeft: 3 });
  });

  it("marks good the way systemd-bless-boot does: the counter leaves the file name", () => {
    applyBootOps(esp, systemdBoot.arm(readBootFiles(esp, systemdBoot), { slot: "b", version: "0.2.0", tries: 3, verity: null }));
    // systemd-boot counted one attempt: +3 became +2-1.
    writeFileSync(join(esp, "loader/entries/sovereign-b+2-1.conf"), readFileSync(join(esp, "loader/entries/sovereign-b+3.conf")));
    rmSync(join(esp, "loader/entries/sovereign-b+3.conf"));
    applyBootOps(esp, systemdBoot.commit(readBootFiles(esp, systemdBoot), "b"));
    expect(entriesDir()).toEqual(["sovereign-a.conf", "sovereign-b.conf"]);
    expect(systemdBoot.inspect(readBootFiles(esp, systemdBoot))).toEqual({ committed: "b", trial: null, triesLeft: null });
  });

  it("sees a trial whose tries ran out, and re-arming replaces the bad entry", () => {
    writeFileSync(join(esp, "loader/entries/sovereign-b+0-3.conf"), "title x\nversion 2\noptions sovereign.slot=b\n");
    expect(systemdBoot.inspect(readBootFiles(esp, systemdBoot)).triesLeft).toBe(0);
    applyBootOps(esp, systemdBoot.arm(readBootFiles(esp, systemdBoot), { slot: "b", version: "0.3.0", tries: 2, verity: null }));
    expect(entriesDir()).toEqual(["sovereign-a.conf", "sovereign-b+2.conf"]);
    expect(readFileSync(join(esp, "loader/entries/sovereign-b+2.conf"), "utf8")).toContain("version 3\n");
  });

  it("abandons a trial the health gate gave up: its tries are spent, so the next plain boot is the old slot's", () => {
    applyBootOps(esp, systemdBoot.arm(readBootFiles(esp, systemdBoot), { slot: "b", version: "0.2.0", tries: 3, verity: null }));
    // systemd-boot counted this boot: +3 became +2-1.
    writeFileSync(join(esp, "loader/entries/sovereign-b+2-1.conf"), readFileSync(join(esp, "loader/entries/sovereign-b+3.conf")));
    rmSync(join(esp, "loader/entries/sovereign-b+3.conf"));
    applyBootOps(esp, systemdBoot.abandon(readBootFiles(esp, systemdBoot), "b"));
    expect(entriesDir()).toEqual(["sovereign-a.conf", "sovereign-b+0-3.conf"]);
    expect(systemdBoot.inspect(readBootFiles(esp, systemdBoot))).toEqual({ committed: "a", trial: "b", triesLeft: 0 });
    // Nothing to abandon on the committed slot.
    expect(systemdBoot.abandon(readBootFiles(esp, systemdBoot), "a")).toEqual([]);
  });

  it("carries the node's shared initrds (an ssh-unlock image's host keys) into the armed entry, after the slot's own", () => {
    const a = readFileSync(join(esp, "loader/entries/sovereign-a.conf"), "utf8").replace("initrd /sovereign/a/initrd.img\n", "initrd /sovereign/a/initrd.img\ninitrd /sovereign/node-unlock.cpio\n");
    writeFileSync(join(esp, "loader/entries/sovereign-a.conf"), a);
    applyBootOps(esp, systemdBoot.arm(readBootFiles(esp, systemdBoot), { slot: "b", version: "0.2.0", tries: 3, verity: null }));
    const b = readFileSync(join(esp, "loader/entries/sovereign-b+3.conf"), "utf8");
    expect(b.split("\n").filter((l) => l.startsWith("initrd "))).toEqual(["initrd /sovereign/b/initrd.img", "initrd /sovereign/node-unlock.cpio"]);
    // and back: arming A from B's entry keeps it too, never A's or B's own initrd twice.
    applyBootOps(esp, systemdBoot.commit(readBootFiles(esp, systemdBoot), "b"));
    applyBootOps(esp, systemdBoot.arm(readBootFiles(esp, systemdBoot), { slot: "a", version: "0.3.0", tries: 3, verity: null }));
    const a2 = readFileSync(join(esp, "loader/entries/sovereign-a+3.conf"), "utf8");
    expect(a2.split("\n").filter((l) => l.startsWith("initrd "))).toEqual(["initrd /sovereign/a/initrd.img", "initrd /sovereign/node-unlock.cpio"]);
  });

  it("arms a verity bundle's slot with its signed root hash, read-only, and back to a bundle without one", () => {
    const verity = { rootHash: "ab".repeat(32), hashOffset: 1_048_576 * 900 };
    writeFileSync(join(esp, "loader/entries/sovereign-a.conf"), readFileSync(join(esp, "loader/entries/sovereign-a.conf"), "utf8").replace(/^options .*$/m, `options ${withSlotRoot("rootfstype=ext4 quiet console=ttyS0", "a", { rootHash: "cd".repeat(32), hashOffset: 4096 * 10 })}`));
    applyBootOps(esp, systemdBoot.arm(readBootFiles(esp, systemdBoot), { slot: "b", version: "0.2.0", tries: 3, verity }));
    const b = /^options (.*)$/m.exec(readFileSync(join(esp, "loader/entries/sovereign-b+3.conf"), "utf8"))?.[1] ?? "";
    expect(b).toBe(`root=/dev/mapper/sovslot sovereign.slot=b sovereign.roothash=${"ab".repeat(32)} sovereign.hashoffset=943718400 ro fsck.mode=skip rootfstype=ext4 quiet console=ttyS0`);
    expect(slotVerityOf(b)).toEqual(verity);
    expect(bootedSlotOf(b)).toBe("b");
    applyBootOps(esp, systemdBoot.commit(readBootFiles(esp, systemdBoot), "b"));
    applyBootOps(esp, systemdBoot.arm(readBootFiles(esp, systemdBoot), { slot: "a", version: "0.3.0", tries: 3, verity: null }));
    const a = /^options (.*)$/m.exec(readFileSync(join(esp, "loader/entries/sovereign-a+3.conf"), "utf8"))?.[1] ?? "";
    expect(a).toBe("root=PARTLABEL=sovereign-root-a sovereign.slot=a rw rootfstype=ext4 quiet console=ttyS0");
    expect(slotVerityOf(a)).toBeNull();
  });

  it("replaces only the slot's own options in the kernel command line", () => {
    expect(withSlotRoot("root=PARTLABEL=sovereign-root-a sovereign.slot=a console=ttyS0", "b", null)).toBe("root=PARTLABEL=sovereign-root-b sovereign.slot=b rw console=ttyS0");
    expect(bootedSlotOf("BOOT_IMAGE=/x ro sovereign.slot=b quiet")).toBe("b");
    expect(bootedSlotOf("ro quiet")).toBeNull();
  });
});

describe("Raspberry Pi tryboot", () => {
  it("arms with tryboot_a_b: a normal boot stays on the committed partition, tryboot starts the other", () => {
    writeFileSync(join(esp, "autoboot.txt"), autobootTxt("a", "b"));
    applyBootOps(esp, tryboot.arm(readBootFiles(esp, tryboot), { slot: "b", version: "0.2.0", tries: 1, verity: null }));
    expect(readFileSync(join(esp, "autoboot.txt"), "utf8")).toBe("[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n");
    expect(tryboot.rebootCommand()).toEqual(["reboot", "0 tryboot"]);
    expect(tryboot.inspect(readBootFiles(esp, tryboot))).toEqual({ committed: "a", trial: "b", triesLeft: null });
  });

  it("commits after health by rewriting autoboot.txt, and arms back the other way from there", () => {
    applyBootOps(esp, tryboot.commit(readBootFiles(esp, tryboot), "b"));
    // Nothing stays armed: a tryboot reboot from here starts partition 3 again, not the old slot.
    expect(readFileSync(join(esp, "autoboot.txt"), "utf8")).toBe("[all]\ntryboot_a_b=1\nboot_partition=3\n[tryboot]\nboot_partition=3\n");
    expect(tryboot.inspect(readBootFiles(esp, tryboot))).toEqual({ committed: "b", trial: null, triesLeft: null });
    applyBootOps(esp, tryboot.arm(readBootFiles(esp, tryboot), { slot: "a", version: "0.3.0", tries: 1, verity: null }));
    expect(tryboot.inspect(readBootFiles(esp, tryboot))).toEqual({ committed: "b", trial: "a", triesLeft: null });
    expect(existsSync(join(esp, "autoboot.txt.new"))).toBe(false);
  });

  it("a trial given up is disarmed, so a later tryboot cannot start the slot that failed", () => {
    writeFileSync(join(esp, "autoboot.txt"), autobootTxt("b", "a"));
    expect(tryboot.inspect(readBootFiles(esp, tryboot))).toEqual({ committed: "b", trial: "a", triesLeft: null });
    applyBootOps(esp, tryboot.abandon(readBootFiles(esp, tryboot), "a"));
    // Named given up in a comment the firmware ignores: the initramfs never falls back onto it.
    expect(readFileSync(join(esp, "autoboot.txt"), "utf8")).toBe(autobootTxt("b", "b", "a"));
    expect(readFileSync(join(esp, "autoboot.txt"), "utf8").split("\n")[0]).toBe("# sovereign: slot a given up");
    expect(tryboot.inspect(readBootFiles(esp, tryboot))).toEqual({ committed: "b", trial: null, triesLeft: null });
  });
});
