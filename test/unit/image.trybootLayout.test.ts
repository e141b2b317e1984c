// The Raspberry Pi A/B layout, built for real by the boot-partition and assemble steps (mkfs.vfat, mtools,
// sfdisk, dd) from a stand-in for what raspi-firmware puts in /boot/firmware: no debootstrap, so it runs in the
// fast tier. What the Pi firmware reads is checked on the assembled disk: autoboot.txt on partition 1, each
// slot's boot partition, the slot roots. The full arm64 build of the same steps is test/e2e/image.rpi4.test.ts.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { slotVerityOf, tryboot, TRYBOOT_PARTITIONS } from "../../core/bootSelection.js";
import type { BuildOptions } from "../../image/BuildContext.js";
import { builtSlotVerity, bundleInputsFor } from "../../image/bundle.js";
import { findBoard } from "../../image/boards/registry.js";
import { AUTOBOOT_MIB, rebootRequestUnits } from "../../image/lib/abLayout.js";
import { createContext } from "../../image/pipeline.js";
import { assembleStep } from "../../image/steps/assemble.js";
import { bootPartitionStep, RASPI_FIRMWARE_HOOKS } from "../../image/steps/bootPartition.js";
import { preflightStep } from "../../image/steps/preflight.js";
import { slotVerityStep } from "../../image/steps/slotVerity.js";
import type { VeritySlot } from "../../image/StepOutputs.js";
import { verifySlotVerity } from "../../image/lib/slotVerity.js";
import { requireTools } from "../helpers/requireTool.js";

const repoRoot = join(import.meta.dirname, "..", "..");
const tmp = mkdtempSync(join(tmpdir(), "sov-tryboot-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const MiB = 1024 * 1024;
const env = { ...process.env, MTOOLS_SKIP_CHECK: "1" };
const enabled = requireTools("mkfs.vfat", "mcopy", "mtype", "mdir", "sfdisk", "veritysetup");

// What raspi-firmware's hooks write (trixie), trimmed: the kernel and initrd by version, a Pi-specific section, the custom lines.
const RASPI_CONFIG = ["# Do not modify this file!", "auto_initramfs=1", "kernel=vmlinuz-6.12.48+deb13-arm64", "initramfs initrd.img-6.12.48+deb13-arm64", "[pi4]", "arm_boost=1", "[all]", "arm_64bit=1", ""].join("\n");
const raspiCmdline = (console: string): string => `console=tty0 console=${console} root=PARTLABEL=sovereign-root-a rw fsck.repair=yes net.ifnames=0 rootwait rootfstype=ext4 quiet panic=10\n`;

interface Built {
  disk: string;
  parts: { start: number; size: number; name: string; type: string }[];
  rootImage: Buffer;
  dataImage: Buffer;
  work: string;
  slot: VeritySlot;
}

async function buildPiAb(boardId: "rpi4" | "rpi5"): Promise<Built> {
  const board = findBoard(boardId)!;
  if (board.boot.kind !== "raspberrypi") throw new Error("not a Pi");
  const out = join(tmp, boardId);
  const opts: BuildOptions = { board: boardId, out, models: [], mirror: "http://deb.debian.org/debian", cache: join(tmp, "cache"), compress: "none", repoRoot, layout: "ab", unlock: "passphrase" };
  const ctx = createContext(opts);
  await preflightStep.run(ctx, {}).catch((e: Error) => {
    // Host tools (mmdebstrap, qemu) may be missing here; only the layout's own refusals matter to this test.
    if (/layout ab/.test(e.message)) throw e;
  });
  const fw = join(ctx.rootfs, "boot/firmware");
  mkdirSync(fw, { recursive: true });
  writeFileSync(join(fw, "config.txt"), RASPI_CONFIG);
  writeFileSync(join(fw, "cmdline.txt"), raspiCmdline(board.console));
  for (const f of ["start4.elf", "fixup4.dat", "vmlinuz-6.12.48+deb13-arm64", "initrd.img-6.12.48+deb13-arm64", ...board.boot.dtbs]) writeFileSync(join(fw, f), `${f} ${boardId}\n`);
  for (const hook of RASPI_FIRMWARE_HOOKS) {
    mkdirSync(join(ctx.rootfs, hook, ".."), { recursive: true });
    writeFileSync(join(ctx.rootfs, hook), "#!/bin/sh\n");
  }
  writeFileSync(ctx.logFile, "");
  const ids = { luksUuid: "0b5c7f3e-2a43-4c55-9a39-1c1e4b1c2d3e", rootFsUuid: "11111111-2222-3333-4444-555555555555", bootVolumeId: "ABCD-1234" };
  const boot = await bootPartitionStep.run(ctx, { configure: { ids, hostname: "h", exposure: null }, initramfs: undefined, runtime: { version: "0.9.1" } } as never);
  // The device's /boot/firmware is the autoboot partition: raspi-firmware's hooks must not copy a kernel there.
  for (const hook of RASPI_FIRMWARE_HOOKS) expect(existsSync(join(ctx.rootfs, hook)), hook).toBe(false);
  // Stand-ins for the slot's ext4 and the LUKS2 data volume: distinct bytes, so misplacement shows.
  const rootImage = Buffer.alloc(24 * MiB, 0x5a);
  rootImage.write("slot-a-root", 0);
  const dataImage = Buffer.alloc(16 * MiB, 0xa5);
  dataImage.write("LUKS\xba\xbe", 0, "latin1");
  writeFileSync(join(ctx.work, "root.img"), rootImage);
  writeFileSync(join(ctx.work, "luks.img"), dataImage);
  // The verity step for real (veritysetup hashes any bytes): the tree goes after the stand-in, the cmdlines name its root hash.
  const slot = (await slotVerityStep.run(ctx, { "boot-partition": boot, "rootfs-image": { image: join(ctx.work, "root.img"), fsBytes: rootImage.length } } as never)) as VeritySlot;
  expect(slot.verity.hashOffset).toBe(rootImage.length);
  expect(slot.bytes).toBeGreaterThan(rootImage.length);
  const asm = (await assembleStep.run(ctx, { "boot-partition": boot, encrypt: { image: join(ctx.work, "luks.img") }, "slot-verity": slot } as never)) as { path: string; table: string };
  // What the signed manifest records as the image's partition table (the board's own is MBR).
  expect(asm.table).toBe("gpt");
  const t = JSON.parse(execFileSync("sfdisk", ["--json", asm.path], { encoding: "utf8" })) as { partitiontable: { label: string; partitions: { start: number; size: number; name?: string; type: string }[] } };
  expect(t.partitiontable.label).toBe("gpt");
  return { disk: asm.path, parts: t.partitiontable.partitions.map((p) => ({ start: p.start * 512, size: p.size * 512, name: p.name ?? "", type: p.type })), rootImage, dataImage, work: ctx.work, slot };
}

const fat = (b: Built, n: number, cmd: "mtype" | "mdir", path: string): string =>
  execFileSync(cmd, [...(cmd === "mdir" ? ["-b", "-/"] : []), "-i", `${b.disk}@@${b.parts[n - 1]!.start}`, `::${path}`], { encoding: "utf8", env });

function bytesAt(path: string, start: number, length: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, start);
    return buf;
  } finally {
    closeSync(fd);
  }
}

for (const boardId of ["rpi4", "rpi5"] as const) {
  describe.runIf(enabled)(`${boardId} A/B layout (tryboot): partitions, autoboot.txt, each slot's boot partition`, () => {
    let b: Built;
    const console = findBoard(boardId)!.console;

    it("is GPT: autoboot, boot A, boot B, root A, root B, data, by the names fstab and the update service use", async () => {
      b = await buildPiAb(boardId);
      expect(b.parts.map((p) => p.name)).toEqual(["sovereign-autoboot", "sovereign-boot-a", "sovereign-boot-b", "sovereign-root-a", "sovereign-root-b", "sovereign-data"]);
      // The firmware's boot_partition numbers are these partitions' (core/bootSelection.ts).
      expect(b.parts[TRYBOOT_PARTITIONS.a - 1]?.name).toBe("sovereign-boot-a");
      expect(b.parts[TRYBOOT_PARTITIONS.b - 1]?.name).toBe("sovereign-boot-b");
      expect(b.parts[0]?.size).toBe(AUTOBOOT_MIB * MiB);
      expect(b.parts[1]?.size).toBe(b.parts[2]?.size);
      expect(b.parts[1]?.size).toBe(findBoard(boardId)!.partitions.bootMiB * MiB);
      for (const i of [0, 1, 2]) expect(b.parts[i]?.type).toBe("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7");
    }, 120_000);

    it("partition 1 holds autoboot.txt: tryboot_a_b, slot A committed, nothing armed", () => {
      const text = fat(b, 1, "mtype", "/autoboot.txt");
      expect(text).toBe("[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=2\n");
      expect(tryboot.inspect(new Map([["autoboot.txt", text]]))).toEqual({ committed: "a", trial: null, triesLeft: null });
      expect(fat(b, 1, "mdir", "/").trim().split("\n")).toEqual(["::/autoboot.txt"]);
    });

    it("boot A has the firmware, kernel, initrd and DTBs, and a config.txt that picks each slot's cmdline by boot partition", () => {
      const listing = fat(b, 2, "mdir", "/");
      const board = findBoard(boardId)!;
      const dtbs = board.boot.kind === "raspberrypi" ? board.boot.dtbs : [];
      expect(dtbs.length).toBeGreaterThan(0);
      for (const f of ["start4.elf", "fixup4.dat", "vmlinuz-6.12.48+deb13-arm64", "initrd.img-6.12.48+deb13-arm64", ...dtbs]) expect(listing).toContain(`::/${f}`);
      const config = fat(b, 2, "mtype", "/config.txt");
      // raspi-firmware's own lines stay, the slot sections come after them and end in [all].
      expect(config.startsWith(RASPI_CONFIG.trimEnd())).toBe(true);
      expect(config).toMatch(/\[boot_partition=2\]\ncmdline=cmdline-a\.txt\n\[boot_partition=3\]\ncmdline=cmdline-b\.txt\n\[all\]\n$/);
    });

    it("each slot's cmdline names its own slot, opened read-only through verity with the build's root hash, and keeps raspi-firmware's console and options", () => {
      const a = fat(b, 2, "mtype", "/cmdline-a.txt");
      const bb = fat(b, 2, "mtype", "/cmdline-b.txt");
      const h = b.slot.verity.rootHash;
      expect(a).toMatch(new RegExp(`^root=/dev/mapper/sovslot sovereign\\.slot=a sovereign\\.roothash=${h} sovereign\\.hashoffset=${b.rootImage.length} ro fsck\\.mode=skip `));
      expect(bb).toMatch(new RegExp(`^root=/dev/mapper/sovslot sovereign\\.slot=b sovereign\\.roothash=${h} `));
      for (const c of [a, bb]) {
        expect(c).toContain(`console=${console}`);
        expect(c).toContain("rootwait");
        expect(c.match(/root=/g)).toHaveLength(1);
        expect(c).not.toMatch(/ rw( |$)/);
        expect(slotVerityOf(c)).toEqual(b.slot.verity);
        expect(c.split("\n").filter(Boolean)).toHaveLength(1);
      }
      // A firmware that ignores the filter boots cmdline.txt: slot A's, the one it boots.
      expect(fat(b, 2, "mtype", "/cmdline.txt")).toBe(a);
    });

    it("boot B and root B are empty until the first update; root A and the data partition hold what the build made", () => {
      const zeros = (i: number): boolean => bytesAt(b.disk, b.parts[i]!.start, 4 * MiB).every((x) => x === 0);
      expect(zeros(2)).toBe(true);
      expect(zeros(4)).toBe(true);
      expect(bytesAt(b.disk, b.parts[3]!.start, b.rootImage.length).equals(b.rootImage)).toBe(true);
    });

    it("slot A on the disk verifies against the root hash its cmdline names, and one changed byte fails it", async () => {
      const slotA = join(tmp, `${boardId}-slot-a.img`);
      writeFileSync(slotA, bytesAt(b.disk, b.parts[3]!.start, b.slot.bytes));
      expect(await verifySlotVerity(slotA, b.slot.verity)).toBe(true);
      const fd = openSync(slotA, "r+");
      writeSync(fd, Buffer.from([0x00]), 0, 1, 5 * MiB + 17);
      closeSync(fd);
      expect(await verifySlotVerity(slotA, b.slot.verity)).toBe(false);
      rmSync(slotA, { force: true });
      expect(bytesAt(b.disk, b.parts[5]!.start, b.dataImage.length).equals(b.dataImage)).toBe(true);
    });

    it("a bundle carries the slot boot partition whole (boot.vfat), the same image that boots either slot", async () => {
      const inputs = await bundleInputsFor(b.work, findBoard(boardId)!);
      expect(inputs.map((i) => [i.name, i.target])).toEqual([["rootfs.ext4", "root"], ["boot.vfat", "boot"]]);
      // The root part is the filesystem and its tree; the manifest signs the root hash the step wrote beside it.
      expect(readFileSync(inputs[0]!.path).length).toBe(b.slot.bytes);
      expect(builtSlotVerity(b.work)).toEqual(b.slot.verity);
      const vfat = readFileSync(inputs[1]!.path);
      expect(bytesAt(b.disk, b.parts[1]!.start, vfat.length).equals(vfat)).toBe(true);
      // Written into partition 3, its config.txt's [boot_partition=3] section gives the firmware cmdline-b.txt.
      const p3 = join(tmp, `${boardId}-p3.vfat`);
      writeFileSync(p3, vfat);
      expect(execFileSync("mtype", ["-i", p3, "::/cmdline-b.txt"], { encoding: "utf8", env })).toMatch(/^root=\/dev\/mapper\/sovslot sovereign\.slot=b /);
    });
  });
}

describe("the Pi A/B reboot script (sovereign-reboot-request)", () => {
  const script = rebootRequestUnits(findBoard("rpi4")!).script;
  const dir = mkdtempSync(join(tmpdir(), "sov-tryboot-reboot-"));
  const run = (autoboot: string, cmdline: string): string => {
    const req = join(dir, "reboot-request");
    writeFileSync(req, "");
    writeFileSync(join(dir, "autoboot.txt"), autoboot);
    writeFileSync(join(dir, "cmdline"), cmdline);
    writeFileSync(join(dir, "systemctl"), `#!/bin/sh\necho "$@" > ${join(dir, "systemctl.log")}\n`, { mode: 0o755 });
    const s = script
      .replace("/var/lib/sovereign/update/reboot-request", req)
      .replace("/boot/firmware/autoboot.txt", join(dir, "autoboot.txt"))
      .replace("/proc/cmdline", join(dir, "cmdline"))
      .replaceAll("exec systemctl", `exec ${join(dir, "systemctl")}`);
    execFileSync("sh", ["-c", s]);
    return readFileSync(join(dir, "systemctl.log"), "utf8").trim();
  };
  const armed = (all: number, trial: number): string => `[all]\ntryboot_a_b=1\nboot_partition=${all}\n[tryboot]\nboot_partition=${trial}\n`;

  it.runIf(process.platform === "linux")("restarts into an armed trial with the firmware's one-shot tryboot, and leaves a trial (or reboots a committed node) plainly", () => {
    expect(run(armed(2, 3), "console=ttyS1 root=PARTLABEL=sovereign-root-a sovereign.slot=a rw")).toBe("reboot 0 tryboot");
    // On the trial itself (booted from partition 3): a plain reboot, which the firmware starts from [all], the old slot.
    expect(run(armed(2, 3), "root=PARTLABEL=sovereign-root-b sovereign.slot=b rw")).toBe("reboot");
    // Committed or given up: nothing armed.
    expect(run(armed(3, 3), "root=PARTLABEL=sovereign-root-b sovereign.slot=b rw")).toBe("reboot");
    expect(run("", "sovereign.slot=a")).toBe("reboot");
  });
});
