// Build the generic arm64 UEFI image in full (arm64 through qemu-user, compressed, signed) in the A/B layout
// and boot it in qemu-system-aarch64 -M virt with AAVMF under software emulation: the key stick unlocks the
// data partition, first boot re-encrypts it to a new volume key, the node (Node, SQLite and the other
// cross-built addons running on aarch64, from slot A) serves /healthz through a forwarded port. A reboot with the
// stick's new key, and the update cycle, are booted on x86_64 (image.ab.test.ts), with the same keyscript: this
// suite's second boot (3.4 min of CI's side lane) was left out to keep npm test inside CI's 90 minutes.
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";
import { dumpVolumeKey, ext4MagicInPayload, readLuks2Header } from "../../image/lib/luksPayload.js";
import { bootToHealthz, statusLine, waitFor } from "./imageQemu.js";
import { buildImage, decompressDisk, extractHeader, repoRoot, requireRoot, rootPartition, uefiLayout, verifiedManifest, type BuiltImage } from "./imageBuild.js";

const out = join(repoRoot, "test-artifacts/image-arm64");
const MiB = 1024 * 1024;
const enabled =
  requireTools("mmdebstrap", "cryptsetup", "mkfs.ext4", "mkfs.vfat", "mcopy", "sfdisk", "zstd", "qemu-aarch64-static", "aarch64-linux-gnu-g++", "qemu-system-aarch64") &&
  requireRoot();

describe.runIf(enabled)("arm64-uefi image (--layout ab): full build, LUKS payload, boot in qemu-system-aarch64 -M virt", () => {
  let built: BuiltImage;
  let disk: string;
  let usbKey: string;
  const measured: Record<string, number | string> = {};

  beforeAll(() => {
    built = buildImage(out, ["--board", "arm64-uefi", "--unlock", "usb-key", "--layout", "ab", "--compress", "zstd"], { SOVEREIGN_IMAGE_TEST_PBKDF_KIB: "65536", SOVEREIGN_IMAGE_STATUS_TTY: "ttyAMA0" });
    // A larger medium than the image: first boot grows into it.
    disk = decompressDisk(built, out, 256 * MiB);
    usbKey = join(out, "usbkey.img");
    copyFileSync(built.usbKeyImage ?? "", usbKey);
  }, 45 * 60_000);

  afterAll(() => {
    if (built) writeFileSync(join(out, "measured.json"), JSON.stringify({ accel: "tcg", ...measured, timings: built.timings, sizes: built.sizes }, null, 2));
  });

  it("writes a compressed image, SHA256SUMS and a signed manifest listing arm64 packages", () => {
    expect(built.image.endsWith(".img.zst")).toBe(true);
    const m = verifiedManifest(built, out);
    expect(m.board).toBe("arm64-uefi");
    const pkgs = new Map(m.packages.map((p) => [p.name, p.arch]));
    expect(pkgs.get("linux-image-arm64")).toBe("arm64");
    expect(pkgs.get("nodejs")).toBe("arm64");
    expect(pkgs.has("systemd-boot-efi")).toBe(true);
    // The board layer adds no Pi firmware to a generic image.
    expect(pkgs.has("raspi-firmware")).toBe(false);
    measured.compressedBytes = built.sizes.imageBytes;
    measured.rawBytes = built.sizes.diskBytes;
  });

  it("has a GPT: an ESP holding the arm64 systemd-boot and slot A's kernel, initrd and entry, two arm64 root slots, the data partition", () => {
    const esp = uefiLayout(disk);
    expect(esp.types).toEqual(["C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "B921B045-1DF0-41C3-AF44-4C6F280D3FAE", "B921B045-1DF0-41C3-AF44-4C6F280D3FAE", "0FC63DAF-8483-4772-8E79-3D69D8477DE4"]);
    for (const f of ["EFI/BOOT/BOOTAA64.EFI", "sovereign/a/vmlinuz", "sovereign/a/initrd.img", "loader/entries/sovereign-a.conf"]) expect(esp.files).toContain(`::/${f}`);
    // Slot A opened read-only through dm-verity, by the root hash the build signed into its entry.
    expect(esp.entry).toMatch(/root=\/dev\/mapper\/sovslot sovereign\.slot=a sovereign\.roothash=[0-9a-f]{64} sovereign\.hashoffset=\d+ ro /);
    expect(esp.entry).toContain("console=ttyAMA0,115200");
  });

  it("the data partition is LUKS2 AES-XTS whose payload decrypts in user space to ext4", async () => {
    const header = extractHeader(disk, join(out, "luks-header.bin"));
    const h = readLuks2Header(header);
    expect(h.uuid).toBe(built.luksUuid);
    expect(h.json.segments["0"]?.encryption).toBe("aes-xts-plain64");
    const vk = await dumpVolumeKey(header, built.passphraseFile ?? "");
    expect(ext4MagicInPayload(disk, h, vk, rootPartition(disk).start).magic).toBe(0xef53);
    writeFileSync(join(out, "build-volume-key.hex"), vk.toString("hex"), { mode: 0o600 });
  });

  it("the cross-built native addons are aarch64, llama.cpp's among them", () => {
    const log = readFileSync(join(out, "build.stderr.log"), "utf8");
    expect(log).toMatch(/better-sqlite3: ELF 64-bit LSB shared object, ARM aarch64/);
    // llama.cpp for any arm64 core (Armv8-A), loaded by the image's own Node as the oldest of them, a Cortex-A53.
    expect(log).toMatch(/llama\.cpp build: [\d.]+ MiB, loads in the image as a cortex-a53 \(no --model to generate with\); CPU : NEON = 1/);
  });

  it("boots under AAVMF, unlocks from the key stick, runs first boot and serves /healthz; the volume key changed", async () => {
    const vm = await bootToHealthz({ arch: "aarch64", dir: out, disk, usbKey, accel: "tcg", tag: "first" }, "/healthz 200", 20 * 60_000);
    try {
      measured.firstBootToHealthzSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
      const line = await waitFor("status line on ttyAMA0", 5 * 60_000, () => statusLine(vm), vm);
      writeFileSync(join(out, "status-first.txt"), line);
      expect(line).toContain("failed=[]");
      expect(line).toContain("user=sovereign");
      expect(line).toContain("active=active");
      // The ESP (where an update arms its slot) is mounted, by its GPT name, and the node's sandbox sees it.
      expect(line).toMatch(/esp=\[vfat,/);
      expect(line).toMatch(/nodeesp=\[\/boot\/efi,/);
      const fb = JSON.parse(/firstboot=(\{.*\})/.exec(line)?.[1] ?? "{}") as { reencryptSeconds: number; volumeKeyDigestBefore: string; volumeKeyDigestAfter: string; rootBytesBefore: number };
      expect(fb.volumeKeyDigestBefore).toBeTruthy();
      expect(fb.volumeKeyDigestAfter).not.toBe(fb.volumeKeyDigestBefore);
      measured.reencryptSeconds = fb.reencryptSeconds;
      measured.reencryptBytes = fb.rootBytesBefore;
    } finally {
      await vm.powerdown(120_000);
    }
    // First boot replaced the build passphrase with the stick's new key.
    await expect(dumpVolumeKey(extractHeader(disk, join(out, "luks-header-after.bin")), built.passphraseFile ?? "")).rejects.toThrow();
  }, 50 * 60_000);
});
