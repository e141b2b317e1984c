// Build a real x86_64 image from the Debian mirror and boot it in qemu with OVMF:
// usb-key unlock from a second disk, first boot re-encrypts to a new volume key (progress on the
// console) and gives the device its own LUKS and ext4 UUIDs, the node serves /healthz through a
// forwarded port, and a boot without the key stick says so on the
// console, then unlocks with the recovery key typed there. (A plain reboot with the stick is the A/B suite's
// trial boot, image.ab.test.ts.)
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";
import { dumpVolumeKey, ext4MagicInPayload, readLuks2Header } from "../../image/lib/luksPayload.js";
import { RECOVERY_KEY_PATTERN } from "../../image/lib/recoveryKey.js";
import { requiredInitrdModules } from "../../image/lib/initrdModules.js";
import { x86_64 } from "../../image/boards/x86_64.js";
import { bootToHealthz, bootUntil, pickAccel, readText, statusLine, waitFor, waitForHealthz } from "./imageQemu.js";
import { assertBootInitrdModules, bootPartitionDir, buildImage, decompressDisk, extractHeader, imageCache, putOnBootPartition, repoRoot, requireRoot, rootPartition, run, uefiLayout, verifiedManifest, type BuiltImage } from "./imageBuild.js";

const out = join(repoRoot, "test-artifacts/image-x86");
const MiB = 1024 * 1024;
/** How long the test image's keyscript waits for the stick (SOVEREIGN_IMAGE_TEST_KEY_WAIT_S; 60 s on a real image). */
const KEY_WAIT_S = 20;
const enabled = requireTools("mmdebstrap", "cryptsetup", "mkfs.ext4", "mkfs.vfat", "mcopy", "sfdisk", "zstd", "qemu-system-x86_64") && requireRoot();

describe.runIf(enabled)("x86_64 image: build, LUKS payload, boot in qemu", () => {
  let built: BuiltImage;
  let disk: string;
  let usbKey: string;
  let accel: "kvm" | "tcg";
  const measured: Record<string, number | string> = {};

  beforeAll(() => {
    built = buildImage(out, ["--board", "x86_64", "--unlock", "usb-key", "--compress", "zstd"], {
      SOVEREIGN_IMAGE_TEST_PBKDF_KIB: "65536", SOVEREIGN_IMAGE_STATUS_TTY: "ttyS1", SOVEREIGN_IMAGE_TEST_KEY_WAIT_S: String(KEY_WAIT_S),
    });
    disk = decompressDisk(built, out);
    usbKey = join(out, "usbkey.img");
    copyFileSync(built.usbKeyImage ?? "", usbKey);
    accel = pickAccel(out);
  }, 45 * 60_000);

  afterAll(() => {
    if (!built) return;
    writeFileSync(join(out, "measured.json"), JSON.stringify({ accel, ...measured, timings: built.timings, sizes: built.sizes }, null, 2));
  });

  it("writes the compressed image, SHA256SUMS and a manifest signed by the build key", () => {
    expect(built.image.endsWith(".img.zst")).toBe(true);
    const m = verifiedManifest(built, out);
    expect(m.board).toBe("x86_64");
    expect(m.luks.uuid).toBe(built.luksUuid);
    for (const p of ["nodejs", "cryptsetup-initramfs", "avahi-daemon", "systemd-boot-efi"]) expect(m.packages.map((x) => x.name)).toContain(p);
    measured.compressedBytes = built.sizes.imageBytes;
    measured.rawBytes = built.sizes.diskBytes;
  });

  it("has a GPT with an ESP holding systemd-boot, kernel, initrd and the loader entry", () => {
    const esp = uefiLayout(disk);
    expect(esp.types).toEqual(["C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"]);
    for (const f of ["EFI/BOOT/BOOTX64.EFI", "vmlinuz", "initrd.img", "loader/entries/sovereign.conf"]) expect(esp.files).toContain(`::/${f}`);
    expect(esp.entry).toContain("root=/dev/mapper/sovroot");
  });

  it("the initrd on the ESP holds the board's boot-critical modules, the usb-key keyscript and passdev", () => {
    const l = assertBootInitrdModules(built, out, ["--unlock", "usb-key"]);
    expect(requiredInitrdModules(x86_64, "usb-key")).toEqual(expect.arrayContaining(["ahci", "nvme", "xhci_pci", "usbhid"]));
    for (const f of ["usr/lib/sovereign/usbkey-keyscript", "usr/lib/cryptsetup/scripts/passdev", "usr/lib/cryptsetup/askpass"]) expect(l.files.map((x) => x.replace(/^lib\//, "usr/lib/"))).toContain(f);
  });

  it("root is LUKS2 with the build passphrase and the recovery key, and its payload decrypts in user space to an ext4 superblock", async () => {
    const header = join(out, "luks-header.bin");
    extractHeader(disk, header);
    const h = readLuks2Header(header);
    expect(h.uuid).toBe(built.luksUuid);
    expect(h.label).toBe("sovereign-luks");
    expect(h.json.segments["0"]?.encryption).toBe("aes-xts-plain64");
    expect(Object.values(h.json.keyslots).map((k) => k.kdf?.type)).toEqual(["argon2id", "argon2id"]);
    const vk = await dumpVolumeKey(header, built.passphraseFile ?? "");
    expect(vk.length).toBe(64);
    measured.buildVolumeKeyPrefix = vk.subarray(0, 4).toString("hex");
    const sb = ext4MagicInPayload(disk, h, vk, rootPartition(disk).start);
    expect(sb.magic).toBe(0xef53);
    writeFileSync(join(out, "build-volume-key.hex"), vk.toString("hex"), { mode: 0o600 });
    writeFileSync(join(out, "build-fs-uuid.txt"), sb.uuid);
    // The recovery key: beside the image, 0600, typable, opening the same volume key; named in --json, never printed there or logged.
    const rk = built.recoveryKeyFile ?? "";
    expect(statSync(rk).mode & 0o777).toBe(0o600);
    const key = readFileSync(rk, "utf8");
    expect(key).toMatch(RECOVERY_KEY_PATTERN);
    expect((await dumpVolumeKey(header, rk)).equals(vk)).toBe(true);
    expect(JSON.stringify(built)).not.toContain(key);
    expect(readFileSync(join(out, "build.stderr.log"), "utf8")).not.toContain(key);
  });

  it("boots, unlocks from the USB key, runs first boot and serves /healthz; the volume key changed", async () => {
    // A larger medium than the image: first boot must grow into it.
    truncateSync(disk, statSync(disk).size + 512 * MiB);
    const vm = await bootToHealthz({ dir: out, disk, usbKey, accel, tag: "first" }, "/healthz 200", 30 * 60_000);
    try {
      measured.firstBootToHealthzSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
      const line = await waitFor("status line on ttyS1", 5 * 60_000, () => statusLine(vm), vm);
      writeFileSync(join(out, "status-first.txt"), line);
      expect(line).toContain("failed=[]");
      expect(line).toContain("user=sovereign");
      expect(line).toContain("active=active");
      const fb = JSON.parse(/firstboot=(\{.*\})/.exec(line)?.[1] ?? "{}") as { reencryptSeconds: number; volumeKeyDigestBefore: string; volumeKeyDigestAfter: string; rootBytesBefore: number; rootBytesAfter: number };
      expect(fb.volumeKeyDigestBefore).toBeTruthy();
      expect(fb.volumeKeyDigestAfter).not.toBe(fb.volumeKeyDigestBefore);
      expect(fb.rootBytesAfter).toBeGreaterThan(fb.rootBytesBefore);
      measured.reencryptSeconds = fb.reencryptSeconds;
      measured.reencryptBytes = fb.rootBytesBefore;
      // Progress with an estimate, on the console, every few seconds of the re-encryption: not only its start and end.
      const progress = [...readText(vm.serial0).matchAll(/^sovereign-firstboot: re-encrypting: (\d+)% \(\d+ of \d+ MiB\) at [\d.]+ MiB\/s, about \d+m\d\ds left/gm)].map((m) => Number(m[1]));
      expect(progress.filter((p) => p > 0 && p < 100).length).toBeGreaterThanOrEqual(2);
      measured.reencryptProgressLines = progress.length;
    } finally {
      await vm.powerdown(120_000);
    }
  }, 40 * 60_000);

  it("after first boot the build passphrase no longer opens the disk, the stick's new key and the recovery key give a new volume key, and the device has its own LUKS and ext4 UUIDs", async () => {
    const header = join(out, "luks-header-after.bin");
    extractHeader(disk, header);
    await expect(dumpVolumeKey(header, built.passphraseFile ?? "")).rejects.toThrow();
    const newKey = join(out, "stick.key");
    run("sh", ["-c", `MTOOLS_SKIP_CHECK=1 mcopy -o -i ${usbKey} ::/sovereign.key ${newKey}`]);
    expect(readFileSync(newKey).length).toBe(64);
    const vk = await dumpVolumeKey(header, newKey);
    const old = readFileSync(join(out, "build-volume-key.hex"), "utf8");
    expect(vk.toString("hex")).not.toBe(old);
    // The recovery key's keyslot survived the re-encryption (first boot added it back under the new volume key).
    expect((await dumpVolumeKey(header, built.recoveryKeyFile ?? "")).equals(vk)).toBe(true);
    const h = readLuks2Header(header);
    expect(h.label).toBe("sovereign-luks");
    expect(h.uuid).not.toBe(built.luksUuid);
    const sb = ext4MagicInPayload(disk, h, vk, rootPartition(disk).start);
    expect(sb.magic).toBe(0xef53);
    expect(sb.uuid).not.toBe(readFileSync(join(out, "build-fs-uuid.txt"), "utf8"));
    measured.luksUuidBuild = built.luksUuid;
    measured.luksUuidDevice = h.uuid;
    measured.keyslotsAfterFirstBoot = Object.keys(h.json.keyslots).length;
  });

  it("without the key stick the console asks for it, then for the recovery key, which unlocks the disk; a recovery file on the boot partition gives the unclaimed node a new setup code", async () => {
    // Recovery by physical presence rides along on this boot: whoever can write the boot partition asks for a new code.
    const firstCode = /setup code: ([A-Z0-9]{4}(?:-[A-Z0-9]{4}){3})/.exec(readText(join(out, "serial0-first.log")))?.[1];
    expect(firstCode).toBeTruthy();
    const request = join(out, "recovery-request.txt");
    writeFileSync(request, "regenerate-setup-code\n");
    putOnBootPartition(disk, request, "sovereign-recovery.txt");
    const { vm } = await bootUntil({ dir: out, disk, accel, tag: "no-stick", interactive: true }, "the key stick message", 15 * 60_000, (v) => (/insert the key stick labelled SOVKEY/.test(readText(v.serial0)) ? true : undefined));
    try {
      const t0 = Date.now();
      await waitFor("the recovery key prompt", 5 * 60_000, () => (/Enter the recovery key/.test(readText(vm.serial0)) ? true : undefined), vm);
      measured.keyWaitToPromptSeconds = Math.round((Date.now() - t0) / 1000);
      expect(readText(vm.serial0)).toContain("no key stick labelled SOVKEY was found");
      await vm.type(`${readFileSync(built.recoveryKeyFile ?? "", "utf8")}\n`);
      await waitForHealthz(vm, "/healthz 200 after the recovery key", 20 * 60_000);
      measured.noStickBootToHealthzSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
      const line = await waitFor("status line after the recovery-key boot", 5 * 60_000, () => statusLine(vm), vm);
      expect(line).toContain("failed=[]");
      // The console unit prints the code the node now holds, after the node has acted on the file.
      const code = await waitFor("the setup code on the console", 5 * 60_000, () => /setup code: ([A-Z0-9]{4}(?:-[A-Z0-9]{4}){3})/.exec(readText(vm.serial0))?.[1], vm);
      expect(code).not.toBe(firstCode);
    } finally {
      await vm.powerdown(120_000);
    }
    // Acted on once: the request is renamed on the boot partition, so the next boot keeps the code.
    expect(bootPartitionDir(disk)).toContain("sovereign-recovery.txt.done");
    expect(bootPartitionDir(disk)).not.toContain("sovereign-recovery.txt");
  }, 30 * 60_000);

  it("an interrupted build leaves no image, partial file or scratch directory behind", async () => {
    const dir = join(out, "interrupted");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "appliance/cli/main.ts"), "image", "build", "--board", "x86_64", "--out", dir, "--cache", imageCache], {
      cwd: repoRoot,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await waitFor("the build to reach the runtime step", 10 * 60_000, () => {
      return /\[3\/\d+\]/.test(stderr) ? true : undefined;
    });
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    const left = readdirSync(dir);
    expect(left.filter((f) => /\.img|\.partial|^\.work-/.test(f))).toEqual([]);
  }, 15 * 60_000);
});
