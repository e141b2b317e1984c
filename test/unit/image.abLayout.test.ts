import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { autobootTxt, BOOT_FAILURE_NOTE, parseBootFailureNote, systemdBoot, tryboot, withSlotRoot } from "../../core/bootSelection.js";
import { findBoard } from "../../image/boards/registry.js";
import { abBootOf, dataMountScript, dracutDataModule, emptyCpio, giveUpShell, verityInitramfsHook, verityOpenScript, NODE_ETC, NODE_ETC_LINKS, NODE_UNLOCK_CPIO, NODE_UNLOCK_HOME, NODE_UNLOCK_KEY_DIR, rebootRequestUnits, slotBytesFor, slotUdevRule, slotUpdateSettings, sshdHostKeysConf, SSH_HOST_KEY_DIR, STATE_PATHS, trialGuardService, verityWatchScript, verityWatchService } from "../../image/lib/abLayout.js";
import { crypttab, dracutConf, fstab, kernelCmdline, loaderEntry } from "../../image/lib/bootConfig.js";
import { minimumDiskBytes, MiB, placePartitions, sfdiskScript } from "../../image/lib/sfdisk.js";
import { firstbootConfig, sovereignService } from "../../image/lib/units.js";
import { requireTools } from "../helpers/requireTool.js";

const repoRoot = join(import.meta.dirname, "../..");

const ids = { luksUuid: "0b5c7f3e-2a43-4c55-9a39-1c1e4b1c2d3e", rootFsUuid: "11111111-2222-3333-4444-555555555555", bootVolumeId: "ABCD-1234" };
const x86 = findBoard("x86_64")!;
const rpi4 = findBoard("rpi4")!;

describe("A/B layout: the modules load in any order", () => {
  // units.ts and abLayout.ts use each other; a constant one of them read from the other at load time was
  // undefined (TDZ) whenever units.ts was imported first. Each is loaded first here, in a fresh process.
  it.each(["units", "abLayout", "bootConfig"])("image/lib/%s.ts loaded first", (name) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "-e", `await import(${JSON.stringify(join(repoRoot, "image/lib", `${name}.ts`))})`], { encoding: "utf8", cwd: repoRoot });
    expect(r.stderr).not.toMatch(/before initialization/);
    expect(r.status).toBe(0);
  });
});

describe("A/B layout: partitions", () => {
  const layout = { table: "gpt" as const, arch: "amd64" as const, bootBytes: 256 * MiB, rootBytes: 48 * MiB, slotBytes: 900 * MiB, diskBytes: minimumDiskBytes(256 * MiB, 48 * MiB, 900 * MiB) };

  it("puts the two slots between the ESP and the data partition, which stays last so first boot can grow it", () => {
    const p = placePartitions(layout);
    expect(p.slots?.a.startBytes).toBe(257 * MiB);
    expect(p.slots?.b.startBytes).toBe(257 * MiB + 900 * MiB);
    expect(p.root.startBytes).toBe(257 * MiB + 1800 * MiB);
    expect(minimumDiskBytes(256 * MiB, 48 * MiB, 900 * MiB)).toBe(MiB + 256 * MiB + 1800 * MiB + 48 * MiB + MiB);
  });

  it("names the slots as the kernel command line finds them, and gives the data partition the plain Linux type", () => {
    const s = sfdiskScript(layout);
    const lines = s.split("\n").filter((l) => l.startsWith("start="));
    expect(lines.map((l) => /name="([^"]+)"/.exec(l)?.[1])).toEqual(["sovereign-esp", "sovereign-root-a", "sovereign-root-b", "sovereign-data"]);
    expect(lines[1]).toContain("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709");
    expect(lines[3]).toContain("0FC63DAF-8483-4772-8E79-3D69D8477DE4");
  });

  it("refuses the A/B layout on an MBR disk, and slots that are not whole MiB", () => {
    expect(() => sfdiskScript({ ...layout, table: "dos" })).toThrow(/GPT/);
    expect(() => sfdiskScript({ ...layout, slotBytes: 900 * MiB + 1 })).toThrow(/whole MiB/);
  });

  it("sizes a slot with room for later versions to grow", () => {
    expect(slotBytesFor(435 * MiB)).toBe(947 * MiB);
    expect(slotBytesFor(2000 * MiB)).toBe(3000 * MiB);
    expect(slotBytesFor(435 * MiB) % MiB).toBe(0);
  });
});

describe("A/B layout: boot files", () => {
  it("crypttab opens the data partition in the initramfs, by the same label and key as a single root", () => {
    expect(crypttab("usb-key", ids, "ab")).toMatch(/^sovdata LABEL=sovereign-luks \/dev\/disk\/by-label\/SOVKEY:\/sovereign\.key luks,discard,initramfs,tries=0,keyscript=/);
    expect(crypttab("passphrase", ids, "ab")).toBe("sovdata LABEL=sovereign-luks none luks,discard,initramfs\n");
    expect(crypttab("passphrase", ids)).toBe("sovroot LABEL=sovereign-luks none luks,discard,initramfs\n");
  });

  it("fstab mounts the data partition and an ESP the service's group may write, and no root (the command line names the slot)", () => {
    const f = fstab(x86, ids, { serviceGid: 997 });
    expect(f).toContain("/dev/mapper/sovdata /data ext4");
    // By GPT name: a slot written from a bundle has the fstab of the bundle's build, whose ESP volume id is another.
    expect(f).toMatch(/^PARTLABEL=sovereign-esp \/boot\/efi vfat uid=0,gid=997,fmask=0117,dmask=0007,nofail,x-systemd\.device-timeout=5min/m);
    expect(f).not.toContain("ABCD-1234");
    expect(f).not.toMatch(/ \/ ext4/);
  });

  it("slot A's loader entry is one the update service can retarget, arm and bless", () => {
    const { entryPath, entry, loaderConf } = loaderEntry(x86, "usb-key", ids.luksUuid, ["sovereign.keywait=20"], { version: "0.9.1" });
    expect(entryPath).toBe("loader/entries/sovereign-a.conf");
    expect(entry).toContain("linux /sovereign/a/vmlinuz");
    expect(entry).toMatch(/options root=PARTLABEL=sovereign-root-a sovereign\.slot=a rw rootfstype=ext4 .*sovereign\.keywait=20/);
    const files = new Map([["loader/loader.conf", loaderConf], [entryPath, entry]]);
    expect(systemdBoot.inspect(files)).toEqual({ committed: "a", trial: null, triesLeft: null });
    const armed = systemdBoot.arm(files, { slot: "b", version: "0.9.2", tries: 3, verity: null });
    const b = armed.find((o) => o.op === "write" && o.path.startsWith("loader/entries/sovereign-b+3"));
    expect(b && b.op === "write" ? b.content : "").toContain("root=PARTLABEL=sovereign-root-b sovereign.slot=b rw");
    expect(withSlotRoot("root=PARTLABEL=sovereign-root-a sovereign.slot=a", "b", null)).toBe("root=PARTLABEL=sovereign-root-b sovereign.slot=b rw");
  });

  it("the image's config names both slots, the ESP and a reboot the sandboxed node can ask for", () => {
    const s = slotUpdateSettings(x86);
    expect(s).toMatchObject({ slotA: "/dev/disk/by-partlabel/sovereign-root-a", slotB: "/dev/disk/by-partlabel/sovereign-root-b", bootDir: "/boot/efi", bootMethod: "systemd-boot" });
    expect(s.rebootCommand).toEqual(["/usr/bin/touch", "/var/lib/sovereign/update/reboot-request"]);
    expect(slotUdevRule(x86)).toMatch(/ENV\{ID_PART_ENTRY_NAME\}=="sovereign-root-a\|sovereign-root-b", GROUP="sovereign", MODE="0660"/);
  });

  it("on a Pi, the config names each slot's boot partition, autoboot.txt's partition and tryboot; the node may write all four slot devices", () => {
    expect(slotUpdateSettings(rpi4)).toMatchObject({ bootSlotA: "/dev/disk/by-partlabel/sovereign-boot-a", bootSlotB: "/dev/disk/by-partlabel/sovereign-boot-b", bootDir: "/boot/firmware", bootMethod: "tryboot" });
    expect(slotUdevRule(rpi4)).toContain('=="sovereign-root-a|sovereign-root-b|sovereign-boot-a|sovereign-boot-b"');
    const unit = sovereignService(rpi4, true);
    for (const l of ["sovereign-root-a", "sovereign-root-b", "sovereign-boot-a", "sovereign-boot-b"]) expect(unit).toContain(`DeviceAllow=/dev/disk/by-partlabel/${l} rw`);
    expect(unit).toContain("After=boot-firmware.mount");
    expect(unit).toMatch(/ReadWritePaths=\/var\/lib\/sovereign \/boot\/firmware\n/);
    expect(fstab(rpi4, ids, { serviceGid: 997 })).toContain("PARTLABEL=sovereign-autoboot /boot/firmware vfat");
  });
});

describe("A/B layout: units and scripts", () => {
  it("the initramfs script mounts the data partition and binds every state path, panicking rather than booting a blank node", () => {
    const s = dataMountScript();
    expect(s).toContain('mount -t ext4 -o rw,noatime "$DEV" "${rootmnt}/data"');
    for (const p of STATE_PATHS) expect(s).toContain(`bind ${p.kind} ${p.path}`);
    expect(s).toMatch(/\[ -b "\$DEV" \] \|\| panic/);
    expect(spawnSync("sh", ["-n"], { input: s }).status).toBe(0);
  });

  it("a verity slot: the initramfs opens it read-only by its signed root hash, and layers RAM over it before the data partition's binds", () => {
    for (const gen of ["initramfs-tools", "dracut"] as const) {
      for (const board of [x86, rpi4]) {
        const open = verityOpenScript(abBootOf(board), gen);
        expect(spawnSync("sh", ["-n"], { input: open }).status).toBe(0);
        expect(open).toContain('veritysetup open "$dev" sovslot "$dev" "$hash" --hash-offset="$offset" || give_up');
        // The filesystem's first blocks are read through verity before root is mounted: a changed superblock gives the slot up.
        expect(open).toMatch(/dd if=\/dev\/mapper\/sovslot of=\/dev\/null [^\n]*\|\| \{[^\n]*give_up/);
        expect(open).toContain(`/dev/disk/by-partlabel/${abBootOf(board).partlabel}`);
      }
      const open = verityOpenScript(abBootOf(x86), gen);
      // No root hash on the command line (a bundle from before verity): nothing to open, root= names the partition.
      expect(open).toMatch(/\[ -n "\$hash" \] \|\| exit 0/);
      const data = dataMountScript(gen);
      const overlay = data.indexOf("mount -t overlay");
      expect(overlay).toBeGreaterThan(0);
      expect(overlay).toBeLessThan(data.indexOf('mount -t ext4 -o rw,noatime "$DEV"'));
      expect(data).toContain('lowerdir=${rootmnt},upperdir=$ov/upper,workdir=$ov/work');
    }
    // No grep in an initramfs-tools initramfs without busybox: the script reads the command line with the shell.
    expect(dataMountScript()).not.toContain("grep");
    const hook = verityInitramfsHook();
    expect(hook).toContain("copy_exec /usr/sbin/veritysetup /sbin");
    expect(hook).toContain("manual_add_modules dm-verity overlay vfat nls_cp437");
    const dracut = dracutDataModule(abBootOf(x86));
    const dir = "usr/lib/dracut/modules.d/90sovereign-data";
    expect(dracut[`${dir}/sovereign-verity.service`]!.text).toMatch(/ConditionKernelCommandLine=sovereign\.roothash\n[^]*Before=sysroot\.mount/);
    expect(dracut[`${dir}/module-setup.sh`]!.text).toContain("instmods dm-verity overlay vfat");
    expect(dracut[`${dir}/module-setup.sh`]!.text).toMatch(/inst_multiple [^\n]*\bdd mv sync/);
    expect(dracut[`${dir}/module-setup.sh`]!.text).toContain("initrd.target.requires/sovereign-verity.service");
  });

  it("a committed slot that does not verify is given up on the boot partition, so the next boot starts the other one; never onto a slot given up itself, and a trial is left to its boot counting", () => {
    // The shell runs for real on a directory standing in for the mounted boot partition (mount, modprobe and panic swapped).
    const run = (board: typeof x86, slot: "a" | "b", files: Record<string, string>) => {
      const dir = mkdtempSync(join(tmpdir(), "sov-giveup-"));
      for (const [p, text] of Object.entries(files)) {
        mkdirSync(join(dir, p, ".."), { recursive: true });
        writeFileSync(join(dir, p), text);
      }
      const script = ['panic() { echo "PANIC $*"; exit 1; }', "mount() { :; }", "umount() { :; }", "modprobe() { :; }", `slot=${slot}`, giveUpShell(abBootOf(board)), 'give_up "does not match its signed root hash"'].join("\n");
      const r = spawnSync("sh", ["-c", script], { env: { ...process.env, SOVEREIGN_BOOT_MNT: dir }, encoding: "utf8" });
      const list = (sub: string) => (existsSync(join(dir, sub)) ? readdirSync(join(dir, sub)).sort() : []);
      const note = existsSync(join(dir, BOOT_FAILURE_NOTE)) ? parseBootFailureNote(readFileSync(join(dir, BOOT_FAILURE_NOTE), "utf8")) : null;
      const out = { said: r.stdout.trim(), status: r.status, entries: list("loader/entries"), note, autoboot: existsSync(join(dir, "autoboot.txt")) ? readFileSync(join(dir, "autoboot.txt"), "utf8") : null };
      rmSync(dir, { recursive: true, force: true });
      return out;
    };
    const entry = "title x\nversion 1\n";
    // UEFI, B committed (no counter) and A committed before it: B is marked as systemd-boot marks a slot out of tries.
    const uefi = run(x86, "b", { "loader/entries/sovereign-a.conf": entry, "loader/entries/sovereign-b.conf": entry });
    expect(uefi.status).toBe(1);
    expect(uefi.said).toBe("PANIC sovereign: slot b does not match its signed root hash; it is given up, and the next boot starts slot a");
    expect(uefi.entries).toEqual(["sovereign-a.conf", "sovereign-b+0-1.conf"]);
    expect(uefi.note).toEqual({ slot: "b", reason: "does not match its signed root hash", when: "boot" });
    // What the update service then reads: slot A is the one systemd-boot starts.
    expect(systemdBoot.inspect(new Map(uefi.entries.map((e) => [`loader/entries/${e}`, entry])))).toMatchObject({ committed: "a" });
    // A is an armed trial (tries left): still a fallback.
    expect(run(x86, "b", { "loader/entries/sovereign-a+3.conf": entry, "loader/entries/sovereign-b.conf": entry }).entries).toEqual(["sovereign-a+3.conf", "sovereign-b+0-1.conf"]);
    // A was given up (its trial failed): B stays, and the reboot loop is named as such.
    const noFallback = run(x86, "b", { "loader/entries/sovereign-a+0-3.conf": entry, "loader/entries/sovereign-b.conf": entry });
    expect(noFallback.entries).toEqual(["sovereign-a+0-3.conf", "sovereign-b.conf"]);
    expect(noFallback.said).toBe("PANIC sovereign: slot b does not match its signed root hash; no fallback: slot a has no entry that was not given up");
    expect(noFallback.note).toBeNull();
    // B on trial: systemd-boot counts it down on its own.
    expect(run(x86, "b", { "loader/entries/sovereign-a.conf": entry, "loader/entries/sovereign-b+2-1.conf": entry }).entries).toEqual(["sovereign-a.conf", "sovereign-b+2-1.conf"]);

    // Raspberry Pi: autoboot.txt's [all] moves to the other slot's partition, with the failed slot named given up.
    const pi = run(rpi4, "b", { "autoboot.txt": autobootTxt("b", "b") });
    expect(pi.autoboot).toBe(autobootTxt("a", "a", "b"));
    expect(tryboot.inspect(new Map([["autoboot.txt", pi.autoboot ?? ""]]))).toEqual({ committed: "a", trial: null, triesLeft: null });
    expect(pi.note?.slot).toBe("b");
    // The other slot was given up (a failed trial, as tryboot.abandon leaves it): nothing changes.
    const givenUp = tryboot.abandon(new Map([["autoboot.txt", autobootTxt("b", "a")]]), "a");
    const piNo = run(rpi4, "b", { "autoboot.txt": givenUp[0]?.op === "write" ? givenUp[0].content : "" });
    expect(piNo.said).toBe("PANIC sovereign: slot b does not match its signed root hash; no fallback: slot a was given up");
    expect(piNo.autoboot).toBe(autobootTxt("b", "b", "a"));
    // Started by tryboot (B on trial, A committed): a plain reboot already goes back.
    expect(run(rpi4, "b", { "autoboot.txt": autobootTxt("a", "b") }).said).toContain("no fallback: slot b is on trial");
  });

  it("a block dm-verity finds changed while the node runs gives the committed slot up and reboots; with no fallback the node stays up", () => {
    // The watcher runs for real with dmsetup, mount, systemctl and sleep swapped for scripts that log what they were asked.
    const run = (entries: string[], statuses: string[]) => {
      const dir = mkdtempSync(join(tmpdir(), "sov-veritywatch-"));
      const esp = join(dir, "esp");
      mkdirSync(join(esp, "loader/entries"), { recursive: true });
      for (const e of entries) writeFileSync(join(esp, "loader/entries", e), "title x\n");
      const bin = join(dir, "bin");
      mkdirSync(bin);
      writeFileSync(join(dir, "statuses"), statuses.join("\n") + "\n");
      const stub = (name: string, body: string) => writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
      // Each `dmsetup status` prints the next line; past the last one it fails, as with no such device.
      stub("dmsetup", `n=$(cat ${dir}/n 2>/dev/null || echo 0); n=$((n + 1)); echo $n > ${dir}/n; line=$(sed -n "\${n}p" ${dir}/statuses); [ -n "$line" ] || exit 1; echo "$line"`);
      stub("systemctl", `echo "systemctl $*" >> ${dir}/asked`);
      for (const c of ["mount", "umount", "modprobe"]) stub(c, "exit 0");
      // A watcher that never sees C would loop for ever: the fourth sleep ends it.
      stub("sleep", `echo sleep >> ${dir}/slept; [ $(wc -l < ${dir}/slept) -lt 4 ] || kill -TERM $PPID`);
      writeFileSync(join(dir, "cmdline"), "BOOT_IMAGE=/sovereign/b/vmlinuz root=/dev/mapper/sovslot sovereign.slot=b sovereign.roothash=ab ro\n");
      const script = verityWatchScript(abBootOf(x86), { cmdline: join(dir, "cmdline"), kmsg: join(dir, "kmsg") });
      const r = spawnSync("sh", ["-c", script], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, SOVEREIGN_BOOT_MNT: esp }, encoding: "utf8" });
      const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8") : "");
      const out = {
        status: r.status, signal: r.signal, said: r.stdout.trim(), kmsg: read("kmsg").trim(), asked: read("asked").trim(), sleeps: read("slept").split("\n").filter(Boolean).length,
        entries: readdirSync(join(esp, "loader/entries")).sort(),
        note: existsSync(join(esp, BOOT_FAILURE_NOTE)) ? parseBootFailureNote(readFileSync(join(esp, BOOT_FAILURE_NOTE), "utf8")) : null,
      };
      rmSync(dir, { recursive: true, force: true });
      return out;
    };
    const ok = "0 614400 verity V";
    const bad = "0 614400 verity C";
    const why = "had a block that does not match its signed root hash (dm-verity, on a read)";
    // B committed, A a fallback: two quiet checks, then C.
    const gaveUp = run(["sovereign-a.conf", "sovereign-b.conf"], [ok, ok, ok, bad]);
    expect(gaveUp).toMatchObject({ status: 0, asked: "systemctl reboot", sleeps: 2, entries: ["sovereign-a.conf", "sovereign-b+0-1.conf"], note: { slot: "b", reason: why, when: "running" } });
    expect(gaveUp.kmsg).toBe(`<3>sovereign: slot b ${why}; it is given up, and the next boot starts slot a`);
    // What the update service then reads: slot A is the one systemd-boot starts.
    expect(systemdBoot.inspect(new Map(gaveUp.entries.map((e) => [`loader/entries/${e}`, "title x\n"])))).toMatchObject({ committed: "a" });
    // A was given up (its trial failed): no reboot into the same blocks, the node keeps serving what it can.
    const stays = run(["sovereign-a+0-3.conf", "sovereign-b.conf"], [ok, bad]);
    expect(stays).toMatchObject({ status: 0, asked: "", entries: ["sovereign-a+0-3.conf", "sovereign-b.conf"], note: null });
    expect(stays.kmsg).toBe(`<3>sovereign: slot b ${why}; no fallback: slot a has no entry that was not given up`);
    // B on trial: rebooted, and systemd-boot's count ends the trial; the entries are left to it.
    const trial = run(["sovereign-a.conf", "sovereign-b+2-1.conf"], [ok, bad]);
    expect(trial).toMatchObject({ status: 0, asked: "systemctl reboot", entries: ["sovereign-a.conf", "sovereign-b+2-1.conf"], note: null });
    expect(trial.kmsg).toBe(`<3>sovereign: slot b ${why}; no fallback: slot b is on trial; systemd-boot ends it`);
    // Only V: it keeps watching and touches nothing.
    const quiet = run(["sovereign-a.conf", "sovereign-b.conf"], Array<string>(10).fill(ok));
    expect(quiet).toMatchObject({ signal: "SIGTERM", asked: "", sleeps: 4, entries: ["sovereign-a.conf", "sovereign-b.conf"], note: null });
    // No verity device (a slot written before verity): it ends at once.
    expect(run(["sovereign-a.conf", "sovereign-b.conf"], [])).toMatchObject({ status: 0, sleeps: 0, asked: "", note: null });
    const unit = verityWatchService();
    expect(unit).toContain("ConditionKernelCommandLine=sovereign.roothash");
    expect(unit).toContain("ExecStart=/usr/local/sbin/sovereign-verity-watch");
  });

  it("tpm2 (dracut): the same mount, run by a unit in the systemd initrd after systemd-cryptsetup opened the data partition", () => {
    const files = dracutDataModule(abBootOf(x86));
    const dir = "usr/lib/dracut/modules.d/90sovereign-data";
    const script = files[`${dir}/sovereign-data.sh`]!;
    expect(script.mode).toBe(0o755);
    expect(script.text).toContain("rootmnt=/sysroot");
    expect(script.text).not.toContain("/scripts/functions");
    for (const p of STATE_PATHS) expect(script.text).toContain(`bind ${p.kind} ${p.path}`);
    expect(spawnSync("sh", ["-n"], { input: script.text }).status).toBe(0);
    const unit = files[`${dir}/sovereign-data.service`]!.text;
    expect(unit).toContain("After=systemd-cryptsetup@sovdata.service sysroot.mount");
    expect(unit).toContain("Before=initrd.target");
    const setup = files[`${dir}/module-setup.sh`]!.text;
    expect(setup).toContain("initrd.target.requires/sovereign-data.service");
    expect(spawnSync("bash", ["-n"], { input: setup }).status).toBe(0);
    expect(dracutConf([], "ab")).toContain('add_dracutmodules+=" systemd-cryptsetup tpm2-tss sovereign-data "');
    expect(dracutConf([])).not.toContain("sovereign-data");
    // The command line opens the data partition by its UUID and boots slot A.
    const cmd = kernelCmdline(x86, "tpm2", ids.luksUuid, [], "ab");
    expect(cmd).toContain(`rd.luks.name=${ids.luksUuid}=sovdata`);
    expect(cmd).toContain("root=PARTLABEL=sovereign-root-a sovereign.slot=a");
  });

  it("the reboot script obeys a request from this boot and drops one from before it", () => {
    const { path, service, script } = rebootRequestUnits();
    expect(path).toContain("PathExists=/var/lib/sovereign/update/reboot-request");
    expect(service).toContain("ExecStart=/usr/local/sbin/sovereign-reboot-request");
    expect(spawnSync("sh", ["-n"], { input: script }).status).toBe(0);
    // Run for real with the request path and systemctl swapped for files in a temp dir.
    const dir = mkdtempSync(join(tmpdir(), "sov-reboot-"));
    const req = join(dir, "reboot-request");
    const log = join(dir, "systemctl.log");
    writeFileSync(join(dir, "systemctl"), `#!/bin/sh\necho "$@" >> ${log}\n`, { mode: 0o755 });
    const runScript = (): string => {
      const r = spawnSync("sh", ["-c", script.replace("/var/lib/sovereign/update/reboot-request", req).replace("exec systemctl", `exec ${join(dir, "systemctl")}`)], { encoding: "utf8" });
      return r.stdout;
    };
    writeFileSync(req, "");
    spawnSync("touch", ["-d", "2000-01-01", req]);
    expect(runScript()).toContain("dropping a reboot request from before this boot");
    expect(spawnSync("test", ["-e", log]).status).not.toBe(0);
    writeFileSync(req, "");
    runScript();
    expect(spawnSync("cat", [log], { encoding: "utf8" }).stdout).toBe("reboot\n");
    expect(spawnSync("test", ["-e", req]).status).not.toBe(0);
  });

  it("sovereign.service hands a node that keeps failing to the trial guard, and may write only the two slots and the ESP", () => {
    const ab = sovereignService(x86, true);
    expect(ab).toMatch(/StartLimitIntervalSec=600\nStartLimitBurst=5\nOnFailure=sovereign-trial-guard\.service/);
    // Ordered after the ESP's mount: the sandbox binds /boot/efi at start, so a later mount would not show inside.
    expect(ab).toMatch(/Wants=boot-efi\.mount\nAfter=boot-efi\.mount/);
    expect(ab).toContain("ReadWritePaths=/var/lib/sovereign /boot/efi");
    expect(ab).toContain("DevicePolicy=closed");
    expect(ab).toContain("DeviceAllow=/dev/disk/by-partlabel/sovereign-root-b rw");
    const single = sovereignService(x86);
    expect(single).toContain("PrivateDevices=yes");
    expect(single).not.toContain("OnFailure");
    const guard = trialGuardService({ SOVEREIGN_BOARD: "x86_64" });
    expect(guard).toContain('ExecStart=-/usr/local/bin/sovereign update leave-trial --why "');
    expect(guard).toContain("Environment=SOVEREIGN_BOARD=x86_64");
  });

  it("first boot re-encrypts the data partition and finds its keys inside it", () => {
    expect(firstbootConfig(x86, "usb-key", { keepRecoveryPassphrase: false, layout: "ab" })).toMatch(/^MAPPER=sovdata\nKEY_DIR=\/data\/firstboot\n/);
    expect(firstbootConfig(x86, "usb-key", { keepRecoveryPassphrase: false })).toMatch(/^MAPPER=sovroot\nKEY_DIR=\/etc\/sovereign\n/);
  });
});

describe("A/B layout: the node's own settings and unlock keys outlive an update", () => {
  it("network settings and sshd's host keys are on the data partition: bound dirs, and links the initramfs gives a target", () => {
    expect(STATE_PATHS).toEqual(expect.arrayContaining([{ path: "/var/lib/iwd", kind: "dir" }, { path: NODE_ETC, kind: "dir" }]));
    for (const target of Object.values(NODE_ETC_LINKS)) expect(target.startsWith(`${NODE_ETC}/`)).toBe(true);
    expect(Object.keys(NODE_ETC_LINKS).sort()).toEqual(["/etc/modprobe.d/sovereign-wifi.conf", "/etc/systemd/timesyncd.conf.d/50-sovereign.conf"]);
    const s = dataMountScript();
    for (const target of Object.values(NODE_ETC_LINKS)) expect(s).toContain(`[ -e "\${rootmnt}/data/state${target}" ] || : > "\${rootmnt}/data/state${target}"`);
    // The links get their targets only after the binds, inside the bound directory.
    expect(s.indexOf(`bind dir ${NODE_ETC}`)).toBeLessThan(s.indexOf("timesyncd.conf\" ] ||"));
    expect(sshdHostKeysConf()).toBe([
      "# Sovereign A/B layout: this node's host keys are on the data partition (image/lib/abLayout.ts).",
      "HostKey /etc/sovereign/node/ssh/ssh_host_ed25519_key", "HostKey /etc/sovereign/node/ssh/ssh_host_ecdsa_key", "HostKey /etc/sovereign/node/ssh/ssh_host_rsa_key", "",
    ].join("\n"));
    const fb = firstbootConfig(x86, "ssh", { keepRecoveryPassphrase: false, layout: "ab", sshHostKeyDir: SSH_HOST_KEY_DIR, unlockArchive: { path: `/boot/efi${NODE_UNLOCK_CPIO}`, home: NODE_UNLOCK_HOME, keyDir: NODE_UNLOCK_KEY_DIR } });
    expect(fb).toContain("SSH_HOST_KEY_DIR=/etc/sovereign/node/ssh\n");
    expect(fb).toContain("UNLOCK_ARCHIVE=/boot/efi/sovereign/node-unlock.cpio\nUNLOCK_HOME=/root-sovereign\nUNLOCK_KEY_DIR=/etc/sovereign/node/dropbear\n");
    expect(firstbootConfig(x86, "usb-key", { keepRecoveryPassphrase: false })).not.toContain("SSH_HOST_KEY_DIR");
  });

  it("ssh unlock: slot A's entry loads the node's unlock archive after its own initrd; other unlock methods do not", () => {
    const ssh = loaderEntry(x86, "ssh", ids.luksUuid, [], { version: "0.9.1" }).entry;
    expect(ssh.split("\n").filter((l) => l.startsWith("initrd "))).toEqual(["initrd /sovereign/a/initrd.img", "initrd /sovereign/node-unlock.cpio"]);
    expect(loaderEntry(x86, "usb-key", ids.luksUuid, [], { version: "0.9.1" }).entry).not.toContain("node-unlock");
  });

  it.runIf(requireTools("cpio"))("the build's placeholder is an empty archive, and first boot's holds the device's keys and owner under the archive's ~root", () => {
    const dir = mkdtempSync(join(tmpdir(), "sov-unlock-"));
    const empty = join(dir, "empty.cpio");
    writeFileSync(empty, emptyCpio());
    expect(emptyCpio().length % 512).toBe(0);
    const listed = spawnSync("cpio", ["-it", "--quiet"], { input: readFileSync(empty), encoding: "utf8" });
    expect(listed.status).toBe(0);
    expect(listed.stdout).toBe("");

    const db = join(dir, "dropbear");
    mkdirSync(db);
    writeFileSync(join(db, "dropbear_ed25519_host_key"), "device ed25519 key");
    writeFileSync(join(db, "dropbear_ecdsa_host_key"), "device ecdsa key");
    writeFileSync(join(db, "authorized_keys"), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOwner owner@home\n");
    const script = join(repoRoot, "image/overlay/sovereign-unlock-archive");
    const out = join(dir, "node-unlock.cpio");
    const r = spawnSync("sh", [script, db, NODE_UNLOCK_HOME, out], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const x = join(dir, "x");
    mkdirSync(x);
    expect(spawnSync("cpio", ["-idm", "--quiet"], { cwd: x, input: readFileSync(out) }).status).toBe(0);
    expect(readFileSync(join(x, "etc/dropbear/dropbear_ed25519_host_key"), "utf8")).toBe("device ed25519 key");
    expect(readFileSync(join(x, "etc/dropbear/dropbear_ecdsa_host_key"), "utf8")).toBe("device ecdsa key");
    expect(readFileSync(join(x, "etc/passwd"), "utf8")).toBe("root:*:0:0::/root-sovereign:/bin/sh\n");
    expect(readFileSync(join(x, "root-sovereign/.ssh/authorized_keys"), "utf8")).toContain("owner@home");
    // dropbear refuses keys a group or others can write; the host keys stay private.
    expect(statSync(join(x, "root-sovereign/.ssh")).mode & 0o777).toBe(0o700);
    expect(statSync(join(x, "etc/dropbear/dropbear_ed25519_host_key")).mode & 0o077).toBe(0);
    // Owned by root inside the archive, whoever wrote it.
    const verbose = spawnSync("cpio", ["-itv", "--quiet"], { input: readFileSync(out), encoding: "utf8" }).stdout;
    for (const line of verbose.trim().split("\n")) expect(line).toMatch(/^\S+\s+\d+\s+root\s+root\s/);
    // Without authorized_keys there is nothing to write: it says so and leaves no archive.
    rmSync(join(db, "authorized_keys"));
    const none = spawnSync("sh", [script, db, NODE_UNLOCK_HOME, join(dir, "none.cpio")], { encoding: "utf8" });
    expect(none.status).not.toBe(0);
    expect(none.stderr).toContain("no ");
    expect(existsSync(join(dir, "none.cpio"))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });
});
