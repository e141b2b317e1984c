// Build a real x86_64 image from the Debian mirror and boot it in qemu with OVMF:
// usb-key unlock from a second disk, first boot re-encrypts to a new volume key,
// the node serves /healthz through a forwarded port, and a reboot unlocks and serves again.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";
import { dumpVolumeKey, ext4MagicInPayload, readLuks2Header } from "../../image/lib/luksPayload.js";
import { bootToHealthz, pickAccel, readText, statusLine, waitFor } from "./imageQemu.js";
import { buildImage, decompressDisk, extractHeader, imageCache, repoRoot, requireRoot, rootPartition, run, uefiLayout, verifiedManifest, type BuiltImage } from "./imageBuild.js";

const out = join(repoRoot, "test-artifacts/image-x86");
const MiB = 1024 * 1024;
const enabled = requireTools("mmdebstrap", "cryptsetup", "mkfs.ext4", "mkfs.vfat", "mcopy", "sfdisk", "zstd", "qemu-system-x86_64") && requireRoot();

describe.runIf(enabled)("x86_64 image: build, LUKS payload, boot in qemu", () => {
  let built: BuiltImage;
  let disk: string;
  let usbKey: string;
  let accel: "kvm" | "tcg";
  const measured: Record<string, number | string> = {};

  beforeAll(() => {
    built = buildImage(out, ["--board", "x86_64", "--unlock", "usb-key", "--compress", "zstd"], { SOVEREIGN_IMAGE_TEST_PBKDF_KIB: "65536", SOVEREIGN_IMAGE_STATUS_TTY: "ttyS1" });
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

  it("root is LUKS2 with the build passphrase, and its payload decrypts in user space to an ext4 superblock", async () => {
    const header = join(out, "luks-header.bin");
    extractHeader(disk, header);
    const h = readLuks2Header(header);
    expect(h.uuid).toBe(built.luksUuid);
    expect(h.json.segments["0"]?.encryption).toBe("aes-xts-plain64");
    expect(Object.values(h.json.keyslots).map((k) => k.kdf?.type)).toEqual(["argon2id"]);
    const vk = await dumpVolumeKey(header, built.passphraseFile ?? "");
    expect(vk.length).toBe(64);
    measured.buildVolumeKeyPrefix = vk.subarray(0, 4).toString("hex");
    const sb = ext4MagicInPayload(disk, h, vk, rootPartition(disk).start);
    expect(sb.magic).toBe(0xef53);
    writeFileSync(join(out, "build-volume-key.hex"), vk.toString("hex"), { mode: 0o600 });
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
    } finally {
      await vm.powerdown(120_000);
    }
  }, 40 * 60_000);

  it("after first boot the build passphrase no longer opens the disk and the stick's new key gives a new volume key", async () => {
    const header = join(out, "luks-header-after.bin");
    extractHeader(disk, header);
    await expect(dumpVolumeKey(header, built.passphraseFile ?? "")).rejects.toThrow();
    const newKey = join(out, "stick.key");
    run("sh", ["-c", `MTOOLS_SKIP_CHECK=1 mcopy -o -i ${usbKey} ::/sovereign.key ${newKey}`]);
    expect(readFileSync(newKey).length).toBe(64);
    const vk = await dumpVolumeKey(header, newKey);
    const old = readFileSync(join(out, "build-volume-key.hex"), "utf8");
    expect(vk.toString("hex")).not.toBe(old);
    expect(ext4MagicInPayload(disk, readLuks2Header(header), vk, rootPartition(disk).start).magic).toBe(0xef53);
  });

  it("a reboot unlocks and serves again, without running first boot twice", async () => {
    const vm = await bootToHealthz({ dir: out, disk, usbKey, accel, tag: "second" }, "/healthz 200 after reboot", 20 * 60_000);
    try {
      measured.rebootToHealthzSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
      const line = await waitFor("status line after reboot", 5 * 60_000, () => statusLine(vm), vm);
      writeFileSync(join(out, "status-second.txt"), line);
      expect(line).toContain("failed=[]");
      expect(readText(vm.serial0)).not.toContain("re-encrypting");
    } finally {
      await vm.powerdown(120_000);
    }
    expect(existsSync(disk)).toBe(true);
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
