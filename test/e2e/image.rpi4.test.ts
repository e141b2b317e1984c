// Build the Raspberry Pi 4 image (arm64, through qemu-user) in the A/B layout to the assembled disk and check
// what the Pi's bootloader and firmware will see: a GPT whose partition 1 holds autoboot.txt (tryboot_a_b),
// slot A's boot partition with raspi-firmware's files and a cmdline per slot, and the LUKS2 data partition
// (first boot switches it to Adiantum: the Pi 4 has no AES instructions). The layout's structure for both Pis
// is also checked without a build, in test/unit/image.trybootLayout.test.ts.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";
import { tryboot } from "../../core/bootSelection.js";
import { dumpVolumeKey, ext4MagicInPayload, readLuks2Header } from "../../image/lib/luksPayload.js";
import { buildImage, repoRoot, requireRoot, run, type BuiltImage } from "./imageBuild.js";
import { testLlamaModel } from "../models/testModelCache.js";

const out = join(repoRoot, "test-artifacts/image-rpi4");
const enabled =
  requireTools("mmdebstrap", "cryptsetup", "mkfs.ext4", "mkfs.vfat", "mcopy", "sfdisk", "qemu-aarch64-static", "aarch64-linux-gnu-g++") && requireRoot();

describe.runIf(enabled)("rpi4 image (arm64, --layout ab): GPT, autoboot.txt, slot A's boot files, Adiantum LUKS header", () => {
  let built: BuiltImage;
  let disk: string;
  let starts: number[];
  let rootStart: number;
  const mtools = (cmd: "mdir -b -/" | "mtype", part: number, path: string): string => run("sh", ["-c", `MTOOLS_SKIP_CHECK=1 ${cmd} -i ${disk}@@${starts[part - 1]} ::${path}`]);

  beforeAll(() => {
    // With the tiny model, the llama-addon step generates with its Armv8-A build in the image's Node as a Cortex-A72.
    built = buildImage(out, ["--board", "rpi4", "--unlock", "passphrase", "--layout", "ab", "--model", testLlamaModel("tiny"), "--compress", "none"], { SOVEREIGN_IMAGE_TEST_PBKDF_KIB: "65536" });
    disk = built.image;
    const t = JSON.parse(run("sfdisk", ["--json", disk])) as { partitiontable: { partitions: { start: number }[] } };
    starts = t.partitiontable.partitions.map((p) => p.start * 512);
    rootStart = starts[5] ?? 0;
  }, 45 * 60_000);

  it("has a GPT: autoboot, boot A, boot B, root A, root B, data", () => {
    expect(existsSync(disk)).toBe(true);
    const t = JSON.parse(run("sfdisk", ["--json", disk])) as { partitiontable: { label: string; partitions: { name?: string; start: number }[] } };
    expect(t.partitiontable.label).toBe("gpt");
    expect(t.partitiontable.partitions.map((p) => p.name)).toEqual(["sovereign-autoboot", "sovereign-boot-a", "sovereign-boot-b", "sovereign-root-a", "sovereign-root-b", "sovereign-data"]);
    expect(t.partitiontable.partitions[0]?.start).toBe(2048);
  });

  it("partition 1 holds autoboot.txt: tryboot_a_b with slot A committed and nothing armed", () => {
    const text = mtools("mtype", 1, "/autoboot.txt");
    expect(text).toContain("tryboot_a_b=1");
    expect(tryboot.inspect(new Map([["autoboot.txt", text]]))).toEqual({ committed: "a", trial: null, triesLeft: null });
  });

  it("slot A's boot partition has raspi-firmware's files, the Pi 4 DTBs, kernel and initrd", () => {
    const listing = mtools("mdir -b -/", 2, "/");
    for (const f of ["start4.elf", "fixup4.dat", "config.txt", "cmdline.txt", "cmdline-a.txt", "cmdline-b.txt", "bcm2711-rpi-4-b.dtb"]) expect(listing).toMatch(new RegExp(`::/(.*/)?${f.replace(".", "\\.")}`));
    expect(listing).toMatch(/vmlinuz/);
    expect(listing).toMatch(/initrd\.img/);
  });

  it("config.txt comes from raspi-firmware's configuration and picks each slot's cmdline; each names its slot's root", () => {
    const config = mtools("mtype", 2, "/config.txt");
    expect(config).toContain("arm_64bit=1");
    expect(config).toMatch(/initramfs /);
    expect(config).toMatch(/\[boot_partition=2\]\ncmdline=cmdline-a\.txt\n\[boot_partition=3\]\ncmdline=cmdline-b\.txt\n\[all\]/);
    for (const slot of ["a", "b"]) {
      const cmdline = mtools("mtype", 2, `/cmdline-${slot}.txt`);
      // Either slot's root is opened read-only through dm-verity by this build's root hash (one boot image serves both).
      expect(cmdline).toMatch(new RegExp(`root=/dev/mapper/sovslot sovereign\\.slot=${slot} sovereign\\.roothash=[0-9a-f]{64} sovereign\\.hashoffset=\\d+ ro `));
      expect(cmdline).toContain("rootfstype=ext4");
      expect(cmdline).toContain("console=ttyS1,115200");
      expect(cmdline).not.toContain("/dev/mapper/sovroot");
    }
  });

  it("the data partition is LUKS2 (build UUID, capped argon2id) whose payload decrypts to ext4; the device cipher is Adiantum", async () => {
    const h = readLuks2Header(disk, rootStart);
    expect(h.uuid).toBe(built.luksUuid);
    // Offline encryption has no Adiantum without device-mapper: the image ships AES-XTS and first boot
    // re-encrypts to the board's cipher, which the signed manifest records.
    expect(h.json.segments["0"]?.encryption).toBe("aes-xts-plain64");
    const m = JSON.parse(readFileSync(built.manifest, "utf8")) as { luks: { cipher: string; buildCipher: string } };
    expect(m.luks).toMatchObject({ cipher: "xchacha12,aes-adiantum-plain64", buildCipher: "aes-xts-plain64" });
    const slot = Object.values(h.json.keyslots)[0];
    expect(slot?.kdf?.type).toBe("argon2id");
    expect(slot?.kdf?.memory).toBeLessThanOrEqual(262_144);
    const header = join(out, "luks-header.bin");
    run("dd", [`if=${disk}`, `of=${header}`, "bs=1M", `skip=${rootStart / (1024 * 1024)}`, "count=16", "status=none"]);
    const vk = await dumpVolumeKey(header, built.passphraseFile ?? "");
    expect(ext4MagicInPayload(disk, h, vk, rootStart).magic).toBe(0xef53);
  });

  it("the compiled native addons were cross-built for aarch64", () => {
    const log = readFileSync(join(out, "build.stderr.log"), "utf8");
    expect(log).toMatch(/better-sqlite3: ELF 64-bit LSB shared object, ARM aarch64/);
    expect(log).toMatch(/unix-dgram: ELF 64-bit LSB shared object, ARM aarch64/);
  });

  it("llama.cpp was cross-built for the Pi 4's Cortex-A72 (Armv8-A) and generated in the image's Node run as one (qemu-user -cpu cortex-a72)", () => {
    const log = readFileSync(join(out, "build.stderr.log"), "utf8");
    expect(log).toMatch(/llama\.cpp for Cortex-A72 \(Armv8-A\): cross-compiling for arm64/);
    expect(log).toMatch(/llama\.cpp build: [\d.]+ MiB, loads in the image as a cortex-a72, generated 4 tokens with sovereign-tiny[\w.-]*\.gguf; CPU : NEON = 1/);
  });
});
