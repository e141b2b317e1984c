// ssh unlock, booted: an x86_64 image built with `--unlock ssh --ssh-key` runs in qemu. Its initramfs
// brings up the network and dropbear; the admin's key (and only it) logs in, and `cryptroot-unlock`
// takes the passphrase. First boot then makes the device's own dropbear host keys, so the key a
// client sees after first boot is not the one the build made, and a reboot unlocks the same way.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";
import { bootVm, pickAccel, readText, statusLine, waitFor, waitForHealthz, type Vm } from "./imageQemu.js";
import { buildImage, decompressDisk, repoRoot, requireRoot, run, type BuiltImage } from "./imageBuild.js";

const out = join(repoRoot, "test-artifacts/image-ssh");
const MiB = 1024 * 1024;
const enabled = requireTools("mmdebstrap", "cryptsetup", "mkfs.ext4", "mkfs.vfat", "mcopy", "sfdisk", "zstd", "qemu-system-x86_64", "ssh", "ssh-keygen") && requireRoot();

/** One ssh attempt into the initramfs with `key`; dropbear's forced command is cryptroot-unlock, fed on stdin. */
function ssh(vm: Vm, key: string, input: string): { status: number | null; output: string } {
  const r = spawnSync(
    "ssh",
    ["-p", String(vm.sshPort), "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "StrictHostKeyChecking=accept-new",
      "-o", `UserKnownHostsFile=${join(out, `known_hosts-${vm.sshPort}`)}`, "root@127.0.0.1"],
    { input, encoding: "utf8", timeout: 120_000 },
  );
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function hostKeyOf(vm: Vm): string {
  return readFileSync(join(out, `known_hosts-${vm.sshPort}`), "utf8").trim().split(/\s+/).slice(1).join(" ");
}

/**
 * Waits for dropbear, then unlocks. Without a TTY cryptroot-unlock passes stdin through verbatim,
 * so the passphrase goes without a newline (`printf %s PASS | ssh root@node`).
 */
async function unlockOverSsh(vm: Vm, key: string, passphrase: string): Promise<string> {
  return await waitFor("an ssh unlock through dropbear", 15 * 60_000, () => {
    const r = ssh(vm, key, passphrase);
    return r.status === 0 ? r.output : undefined;
  }, vm);
}

describe.runIf(enabled)("x86_64 image with ssh unlock (dropbear in the initramfs), booted", () => {
  let built: BuiltImage;
  let disk: string;
  let accel: "kvm" | "tcg";
  let passphrase: string;
  const key = join(out, "id_ed25519");
  const stranger = join(out, "stranger_ed25519");
  const hostKeys: string[] = [];
  const measured: Record<string, number | string> = {};

  beforeAll(() => {
    rmSync(out, { recursive: true, force: true });
    run("mkdir", ["-p", out]);
    for (const k of [key, stranger]) run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", k]);
    built = buildImage(out, ["--board", "x86_64", "--unlock", "ssh", "--ssh-key", `${key}.pub`, "--compress", "zstd"], { SOVEREIGN_IMAGE_TEST_PBKDF_KIB: "65536", SOVEREIGN_IMAGE_STATUS_TTY: "ttyS1" });
    passphrase = readFileSync(built.passphraseFile ?? "", "utf8").trim();
    disk = decompressDisk(built, out, 256 * MiB);
    accel = pickAccel(out);
  }, 45 * 60_000);

  afterAll(() => {
    if (built) writeFileSync(join(out, "measured.json"), JSON.stringify({ accel, ...measured }, null, 2));
  });

  it("first boot: only the admin's key gets in, cryptroot-unlock takes the passphrase, and the node serves", async () => {
    const vm = await bootVm({ dir: out, disk, accel, tag: "first", forwardSsh: true });
    try {
      await unlockOverSsh(vm, key, passphrase);
      measured.firstUnlockSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
      hostKeys.push(hostKeyOf(vm));
      await waitForHealthz(vm, "/healthz 200", 30 * 60_000);
      measured.firstBootToHealthzSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
      const line = await waitFor("status line on ttyS1", 5 * 60_000, () => statusLine(vm), vm);
      expect(line).toContain("failed=[]");
    } finally {
      await vm.powerdown(120_000);
    }
  }, 50 * 60_000);

  it("a reboot unlocks over ssh again, with the host key the device made, and a stranger's key is refused", async () => {
    const vm = await bootVm({ dir: out, disk, accel, tag: "second", forwardSsh: true });
    try {
      // Until dropbear is up the stranger gets a connection error; once it is up, a refusal.
      const refused = await waitFor("dropbear to refuse an unknown key", 15 * 60_000, () => {
        const r = ssh(vm, stranger, passphrase);
        return /Permission denied/.test(r.output) ? r : undefined;
      }, vm);
      expect(refused.status).not.toBe(0);
      await unlockOverSsh(vm, key, passphrase);
      hostKeys.push(hostKeyOf(vm));
      // First boot replaced the build's dropbear host keys with the device's own.
      expect(hostKeys[1]).not.toBe(hostKeys[0]);
      await waitForHealthz(vm, "/healthz 200 after reboot", 20 * 60_000);
      measured.rebootToHealthzSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
      expect(readText(vm.serial0)).not.toContain("re-encrypting");
    } finally {
      await vm.powerdown(120_000);
    }
  }, 40 * 60_000);
});
