// TPM2 unlock, booted: an x86_64 image built with `--unlock tpm2 --layout ab` runs in qemu with a software TPM
// (swtpm). Its dracut initrd unlocks the data partition with systemd-cryptsetup and mounts it over slot A
// (sovereign-data.service). The first boot is unlocked by typing
// the build passphrase at the serial console, and first boot enrolls the TPM with systemd-cryptenroll
// (PCR 7), keeping the passphrase for recovery. The next boot with the same TPM unlocks with nobody at
// the console; a boot with another TPM does not, and still offers the passphrase prompt.
// The image also takes the Pi 4's first-boot path: built AES-XTS, re-encrypted to Adiantum on the
// device, then unlocked from the initramfs as Adiantum (the x86 kernel has the same generic modules).
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";
import { readLuks2Header } from "../../image/lib/luksPayload.js";
import { bootUntil, healthz, pickAccel, readText, statusLine, waitFor, waitForHealthz, type Vm } from "./imageQemu.js";
import { buildImage, decompressDisk, extractHeader, repoRoot, requireRoot, run, uefiLayout, type BuiltImage } from "./imageBuild.js";

const out = join(repoRoot, "test-artifacts/image-tpm2");
const MiB = 1024 * 1024;
const enabled = requireTools("mmdebstrap", "cryptsetup", "mkfs.ext4", "mkfs.vfat", "mcopy", "sfdisk", "zstd", "qemu-system-x86_64", "swtpm") && requireRoot();
/** What systemd-cryptsetup in the initrd asks at the console when no token unlocks the disk. */
const PROMPT = /Please enter passphrase for disk/;
const ADIANTUM = "xchacha12,aes-adiantum-plain64";

const headerOf = (disk: string): string => extractHeader(disk, join(out, "luks-header.bin"));

function prompts(vm: Vm): number {
  return readText(vm.serial0).split(PROMPT).length - 1;
}

describe.runIf(enabled)("x86_64 image with tpm2 unlock and an Adiantum device cipher, booted with a software TPM", () => {
  let built: BuiltImage;
  let disk: string;
  let accel: "kvm" | "tcg";
  const tpm = join(out, "tpm-state");
  const measured: Record<string, number | string> = {};

  beforeAll(() => {
    built = buildImage(out, ["--board", "x86_64", "--unlock", "tpm2", "--layout", "ab", "--compress", "zstd"], {
      SOVEREIGN_IMAGE_TEST_PBKDF_KIB: "65536", SOVEREIGN_IMAGE_STATUS_TTY: "ttyS1", SOVEREIGN_IMAGE_TEST_DEVICE_CIPHER: ADIANTUM,
    });
    rmSync(tpm, { recursive: true, force: true });
    disk = decompressDisk(built, out, 256 * MiB);
    expect(readLuks2Header(headerOf(disk)).json.segments["0"]?.encryption).toBe("aes-xts-plain64");
    accel = pickAccel(out);
  }, 45 * 60_000);

  afterAll(() => {
    if (built) writeFileSync(join(out, "measured.json"), JSON.stringify({ accel, ...measured }, null, 2));
  });

  it("first boot: the passphrase typed at the console unlocks, first boot re-encrypts to Adiantum and enrolls the TPM with systemd-cryptenroll", async () => {
    const { vm } = await bootUntil({ dir: out, disk, accel, tag: "first", tpmDir: tpm, interactive: true }, "the passphrase prompt", 15 * 60_000, (v) => (prompts(v) > 0 ? true : undefined));
    try {
      await vm.type(`${readFileSync(built.passphraseFile ?? "", "utf8").trim()}\n`);
      await waitForHealthz(vm, "/healthz 200", 30 * 60_000);
      measured.firstBootToHealthzSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
      const line = await waitFor("status line on ttyS1", 5 * 60_000, () => statusLine(vm), vm);
      expect(line).toContain("failed=[]");
      expect(readText(vm.serial0)).toContain("enrolled this machine's TPM for the root key (systemd-cryptenroll, PCR 7)");
    } finally {
      await vm.powerdown(120_000);
    }
    // The enrollment lives in the LUKS2 header as a systemd-tpm2 token with its own keyslot, beside the
    // passphrase's and the recovery key's (kept through the re-encryption).
    const dump = run("cryptsetup", ["luksDump", headerOf(disk)]);
    expect(dump).toMatch(/^\s+\d+: systemd-tpm2$/m);
    const h = readLuks2Header(headerOf(disk));
    expect(h.json.segments["0"]?.encryption).toBe(ADIANTUM);
    expect(dump.match(/^\s+\d+: luks2$/gm)?.length).toBe(3);
    // (The recovery key's slot cannot be opened here: the host's user-space crypto has no Adiantum for keyslots.)
    // This device's own LUKS UUID, and the loader entry's rd.luks.name rewritten with it (the next test boots it).
    expect(h.uuid).not.toBe(built.luksUuid);
    expect(uefiLayout(disk).entry).toContain(`rd.luks.name=${h.uuid}=sovdata`);
  }, 50 * 60_000);

  it("with the same TPM the disk unlocks with nobody at the console", async () => {
    // A passphrase prompt means the TPM did not unlock: fail then, not after the whole wait.
    const { vm } = await bootUntil({ dir: out, disk, accel, tag: "second", tpmDir: tpm, interactive: true }, "/healthz 200 without a passphrase", 20 * 60_000, async (v) => {
      if (prompts(v) > 0) throw new Error(`the disk asked for its passphrase: the TPM did not unlock it; see ${v.serial0}`);
      return (await healthz(v.port)) ? true : undefined;
    });
    try {
      measured.tpmBootToHealthzSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
      expect(readText(vm.serial0)).not.toContain("re-encrypting");
    } finally {
      await vm.powerdown(120_000);
    }
  }, 30 * 60_000);

  it("with another TPM it stays locked at the passphrase prompt", async () => {
    const otherTpm = join(out, "tpm-other");
    rmSync(otherTpm, { recursive: true, force: true });
    const { vm } = await bootUntil({ dir: out, disk, accel, tag: "other-tpm", tpmDir: otherTpm, interactive: true }, "the passphrase prompt", 15 * 60_000, (v) => (prompts(v) > 0 ? true : undefined));
    try {
      // This TPM cannot unseal the token; the node must not come up on its own.
      await new Promise((r) => setTimeout(r, 60_000));
      expect(await healthz(vm.port)).toBe(false);
      expect(readText(vm.serial0)).not.toMatch(/sov(root|data): set up successfully|Finished.*systemd-cryptsetup@|Reached target.*Local File Systems|sovereign-firstboot/i);
    } finally {
      vm.proc.kill("SIGKILL");
      await vm.exited;
    }
  }, 30 * 60_000);
});
