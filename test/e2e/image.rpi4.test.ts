// Build the Raspberry Pi 4 image (arm64, through qemu-user) to the assembled disk and check what the
// Pi's boot ROM and firmware will see: MBR with a bootable FAT partition, raspi-firmware's boot files,
// cmdline.txt naming the crypt root, and the LUKS2 payload (first boot switches it to Adiantum: the Pi 4 has no AES instructions).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";
import { dumpVolumeKey, ext4MagicInPayload, readLuks2Header } from "../../image/lib/luksPayload.js";
import { buildImage, repoRoot, requireRoot, run, type BuiltImage } from "./imageBuild.js";

const out = join(repoRoot, "test-artifacts/image-rpi4");
const enabled =
  requireTools("mmdebstrap", "cryptsetup", "mkfs.ext4", "mkfs.vfat", "mcopy", "sfdisk", "qemu-aarch64-static", "aarch64-linux-gnu-g++") && requireRoot();

describe.runIf(enabled)("rpi4 image (arm64): partition table, boot files, Adiantum LUKS header", () => {
  let built: BuiltImage;
  let disk: string;
  let rootStart: number;

  beforeAll(() => {
    built = buildImage(out, ["--board", "rpi4", "--unlock", "passphrase", "--compress", "none"], { SOVEREIGN_IMAGE_TEST_PBKDF_KIB: "65536" });
    disk = built.image;
    const t = JSON.parse(run("sfdisk", ["--json", disk])) as { partitiontable: { partitions: { start: number }[] } };
    rootStart = (t.partitiontable.partitions[1]?.start ?? 0) * 512;
  }, 45 * 60_000);

  it("has an MBR with a bootable FAT32 (LBA) firmware partition and a Linux root", () => {
    expect(existsSync(disk)).toBe(true);
    const t = JSON.parse(run("sfdisk", ["--json", disk])) as { partitiontable: { label: string; partitions: { type: string; bootable?: boolean; start: number }[] } };
    expect(t.partitiontable.label).toBe("dos");
    expect(t.partitiontable.partitions.map((p) => p.type)).toEqual(["c", "83"]);
    expect(t.partitiontable.partitions[0]?.bootable).toBe(true);
    expect(t.partitiontable.partitions[0]?.start).toBe(2048);
  });

  it("the firmware partition has raspi-firmware's files, the Pi 4 DTBs, kernel and initrd", () => {
    const listing = run("sh", ["-c", `MTOOLS_SKIP_CHECK=1 mdir -b -/ -i ${disk}@@1M ::/`]);
    for (const f of ["start4.elf", "fixup4.dat", "config.txt", "cmdline.txt", "bcm2711-rpi-4-b.dtb"]) expect(listing).toMatch(new RegExp(`::/(.*/)?${f.replace(".", "\\.")}`));
    expect(listing).toMatch(/vmlinuz/);
    expect(listing).toMatch(/initrd\.img/);
  });

  it("config.txt and cmdline.txt come from raspi-firmware's configuration, with the crypt root", () => {
    const cmdline = run("sh", ["-c", `MTOOLS_SKIP_CHECK=1 mtype -i ${disk}@@1M ::/cmdline.txt`]);
    expect(cmdline).toContain("root=/dev/mapper/sovroot");
    expect(cmdline).toContain("rootfstype=ext4");
    expect(cmdline).toContain("console=ttyS1,115200");
    const config = run("sh", ["-c", `MTOOLS_SKIP_CHECK=1 mtype -i ${disk}@@1M ::/config.txt`]);
    expect(config).toContain("arm_64bit=1");
    expect(config).toMatch(/initramfs /);
  });

  it("root is LUKS2 (build UUID, capped argon2id) whose payload decrypts to ext4; the device cipher is Adiantum", async () => {
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
});
