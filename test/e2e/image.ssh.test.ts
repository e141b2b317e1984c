// ssh unlock, booted: an x86_64 image built with `--unlock ssh --ssh-key --layout ab` runs in qemu. Its
// initramfs brings up the network and dropbear; the admin's key (and only it) logs in, and `cryptroot-unlock`
// takes the passphrase (of the data partition). First boot then makes the device's own dropbear host keys and
// writes them, with the owner's authorized_keys, into the ESP's unlock archive that every slot's entry loads;
// a reboot into the build's initrd (what a slot written from a bundle has) still shows the device's key.
// The booted node is also checked on its network (issue 15): resolved's stub with qemu's DHCP DNS
// (10.0.2.3), timesyncd, a Wi-Fi file written to the boot partition before first boot imported into
// iwd and consumed, the service's MemoryMax, and HTTPS whose certificate is the one on the console.
// The build puts the generated tiny model in, so a chat completion over that HTTPS, after claiming the
// node with the console's setup code, runs llama.cpp's runner inside the service's sandbox (syscall
// filter, MemoryMax, its own cgroup), as a real node's would.
import { spawnSync } from "node:child_process";
import { lookup } from "node:dns/promises";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";
import { testLlamaModel } from "../models/testModelCache.js";
import { bootUntil, healthz, pickAccel, readText, statusLine, waitFor, type Vm } from "./imageQemu.js";
import { field, httpsJson, list, servedFingerprint, withJournal } from "./nodeHttps.js";
import { buildImage, decompressDisk, putOnBootPartition, readOnBootPartition, repoRoot, requireRoot, run, type BuiltImage } from "./imageBuild.js";
import { NETWORK_FILE } from "../../image/lib/wifiConfig.js";
import { expectNetworkFileImported, wifiFixture } from "./networkFileStatus.js";
import type { BuildManifest } from "../../image/lib/manifest.js";

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
 * One try at unlocking through dropbear: its output when it got in. Without a TTY cryptroot-unlock passes
 * stdin through verbatim, so the passphrase goes without a newline (`printf %s PASS | ssh root@node`).
 */
function sshUnlock(vm: Vm, key: string, passphrase: string): string | undefined {
  const r = ssh(vm, key, passphrase);
  return r.status === 0 ? r.output : undefined;
}

describe.runIf(enabled)("x86_64 image with ssh unlock (dropbear in the initramfs), booted", () => {
  let built: BuiltImage;
  let disk: string;
  let accel: "kvm" | "tcg";
  let passphrase: string;
  const key = join(out, "id_ed25519");
  const stranger = join(out, "stranger_ed25519");
  const hostKeys: string[] = [];
  const buildInitrd = join(out, "build-initrd.img");
  const measured: Record<string, number | string> = {};

  beforeAll(() => {
    rmSync(out, { recursive: true, force: true });
    run("mkdir", ["-p", out]);
    for (const k of [key, stranger]) run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", k]);
    built = buildImage(out, ["--board", "x86_64", "--unlock", "ssh", "--ssh-key", `${key}.pub`, "--layout", "ab", "--model", testLlamaModel("tiny"), "--compress", "zstd"], { SOVEREIGN_IMAGE_TEST_PBKDF_KIB: "65536", SOVEREIGN_IMAGE_STATUS_TTY: "ttyS1" });
    passphrase = readFileSync(built.passphraseFile ?? "", "utf8").trim();
    disk = decompressDisk(built, out, 256 * MiB);
    putOnBootPartition(disk, wifiFixture, NETWORK_FILE);
    // The build's initrd, with the build's dropbear host keys and no device keys: what a slot written from a
    // bundle boots. The second boot puts it back in place of the one first boot made.
    run("sh", ["-c", `MTOOLS_SKIP_CHECK=1 mcopy -o -i '${disk}@@1M' ::/sovereign/a/initrd.img '${buildInitrd}'`]);
    accel = pickAccel(out);
  }, 45 * 60_000);

  afterAll(() => {
    if (built) writeFileSync(join(out, "measured.json"), JSON.stringify({ accel, ...measured }, null, 2));
  });

  it("first boot: only the admin's key gets in, cryptroot-unlock takes the passphrase, and the node serves", async () => {
    // Unlock and /healthz in one wait, so that a boot the emulator wedged after the unlock (bootUntil) is made again whole.
    const unlockedAt = new Map<Vm, number>();
    const { vm } = await bootUntil({ dir: out, disk, accel, tag: "first", forwardSsh: true, forwardHttps: true }, "an ssh unlock through dropbear, then /healthz 200", 40 * 60_000, async (v) => {
      if (!unlockedAt.has(v)) {
        if (sshUnlock(v, key, passphrase) !== undefined) unlockedAt.set(v, Date.now());
        return undefined;
      }
      return (await healthz(v.port)) ? true : undefined;
    });
    try {
      measured.firstUnlockSeconds = Math.round(((unlockedAt.get(vm) ?? NaN) - vm.startedAt) / 1000);
      hostKeys.push(hostKeyOf(vm));
      measured.firstBootToHealthzSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
      const line = await waitFor("status line on ttyS1", 5 * 60_000, () => statusLine(vm), vm);
      measured.statusLine = line;
      console.log(line); // in CI's output when a later assertion fails
      expect(line).toContain("failed=[]");
      // sshd listens only where the image configured it: systemd-ssh-generator is masked, so it bound no AF_VSOCK or
      // AF_UNIX socket (and its AF_VSOCK probe, where this boot once wedged in modprobe under TCG, never ran).
      expect(list(line, "sshgen")).toEqual([]);

      // DNS: resolv.conf is resolved's stub, which got qemu's DHCP DNS server; a lookup goes through it
      // when the build host itself can resolve (qemu's DNS forwards to the host's resolver).
      expect(field(line, "resolv")).toBe("../run/systemd/resolve/stub-resolv.conf");
      expect(field(line, "resolved")).toBe("active");
      expect(list(line, "dns")).toContain("10.0.2.3");
      const hostResolves = await lookup("deb.debian.org", { family: 4 }).then(() => true, () => false);
      measured.lookup = `${field(line, "lookup")} (host resolves: ${hostResolves})`;
      if (hostResolves) expect(field(line, "lookup")).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

      // Time: timesyncd runs with the owner's NTP servers from the boot partition's file, and the
      // clock is not before the build (clock-epoch and timesyncd's clock file carry the build time).
      expect(field(line, "timesyncd")).toBe("active");
      const manifest = JSON.parse(readFileSync(built.manifest, "utf8")) as BuildManifest;
      // The sandbox as the image's own systemd-analyze scored it at build (4.2 before issue 15).
      measured.exposure = manifest.security.sovereignServiceExposure ?? "unknown";
      expect(manifest.security.sovereignServiceExposure).not.toBeNull();
      expect(manifest.security.sovereignServiceExposure ?? 10).toBeLessThanOrEqual(2.0);
      // Security updates: trixie-security's packages are in, with versions, and only one kernel.
      expect(manifest.packages.find((p) => p.name === "ca-certificates")?.version).toMatch(/\d/);
      expect(manifest.packages.filter((p) => /^linux-image-\d/.test(p.name))).toHaveLength(1);
      expect(Number(field(line, "clock")) * 1000).toBeGreaterThanOrEqual(Date.parse(manifest.builtAt) - 60_000);

      // NTP servers, Wi-Fi and the regulatory domain from the boot partition's file; its passphrase left the boot partition.
      expectNetworkFileImported(line);

      // The sandbox's memory cap came from tune() (a number of bytes, not "infinity").
      expect(field(line, "memmax")).toMatch(/^\d+$/);
      measured.memoryMax = field(line, "memmax");

      // HTTPS: the certificate served on 8443 is the one whose fingerprint the console printed, with the
      // setup code right below it.
      const console0 = await waitFor("the console status screen", 5 * 60_000, () => /certificate\s+([0-9A-F:]{95})/.exec(readText(vm.serial0))?.[1], vm);
      // A reset under a loaded TCG guest is retried (one run saw ECONNRESET here right after the screen).
      const served = await waitFor("a TLS handshake on the forwarded 8443", 5 * 60_000, () => servedFingerprint(vm.httpsPort ?? 0).catch(() => undefined), vm);
      expect(served).toBe(console0);
      const screen = readText(vm.serial0);
      expect(screen.slice(screen.indexOf(console0))).toMatch(/setup code: \S+/);

      // The runner in the sandbox: claim with the console's setup code, then chat with the model the build
      // installed ("auto" picks it), over the pinned HTTPS.
      const code = /setup code: ([A-Z0-9]{4}(?:-[A-Z0-9]{4}){3})/.exec(screen.slice(screen.indexOf(console0)))?.[1] ?? "";
      const port = vm.httpsPort ?? 0;
      const claimed = await httpsJson(port, console0, "POST", "/api/setup/claim", { code, username: "admin", password: "correct horse battery staple" }).catch(withJournal(vm, "claim"));
      expect(claimed.status, JSON.stringify(claimed.json)).toBe(201);
      const session = { cookie: claimed.cookies.map((c) => c.split(";")[0]).join("; "), "x-csrf-token": String(claimed.json.csrfToken) };
      const t0 = Date.now();
      const ask = () => httpsJson(port, console0, "POST", "/v1/chat/completions", { messages: [{ role: "user", content: "Say hello." }], max_tokens: 8 }, session).catch(withJournal(vm, "chat completion"));
      let chat = await ask();
      // The first runner here loads node-llama-cpp's prebuilt, which node-llama-cpp first loads in a test process of
      // its own: two Node starts and the libraries' first reads through dm-verity, all emulated. Beside the other
      // lane's guest that once took over the runner's 60 s (a CI-like run, 2026-12-07). The node then answers 503
      // and keeps serving, as it must; a client asks again (twice at most here), and a start then reads the libraries
      // from the page cache.
      const slowStart = () => {
        const error = chat.json.error as { code?: string; message?: string } | undefined;
        return chat.status === 503 && /^engine_unavailable$/i.test(error?.code ?? "") && /did not start within/.test(error?.message ?? "") ? error?.message : undefined;
      };
      const retried: string[] = [];
      for (let why = slowStart(); why !== undefined && retried.length < 2; why = slowStart()) {
        retried.push(`${Math.round((Date.now() - t0) / 1000)} s: ${why}`);
        chat = await ask();
      }
      if (retried.length > 0) measured.firstChatRetried = retried.join("; ");
      measured.firstChatSeconds = Math.round((Date.now() - t0) / 1000);
      expect(chat.status, JSON.stringify(chat.json)).toBe(200);
      expect(chat.json.model).toBe(testLlamaModel("tiny").split("/").pop()?.replace(/\.gguf$/, ""));
      expect((chat.json.usage as { completion_tokens: number }).completion_tokens).toBeGreaterThan(0);

      // The image carries the llama.cpp build its llama-addon step made for the board's CPU (x86-64-v3: AVX2, FMA,
      // F16C, BMI2). Under TCG the guest is a Westmere without them: the runner must load the prebuilt and say why,
      // not die of SIGILL (issue 19). Under KVM the guest has the host's CPU and loads the build.
      const status = await httpsJson(port, console0, "GET", "/api/inference/status", undefined, session).catch(withJournal(vm, "inference status"));
      const engine = status.json.engine as { binary: string | null; localBuildRefused: string | null };
      measured.llamaBinary = JSON.stringify(engine);
      if (accel === "tcg") {
        expect(engine.binary).toBe("prebuilt");
        expect(engine.localBuildRefused).toMatch(/^it was compiled for avx, avx2, bmi2, f16c, fma, which this CPU lacks$/);
      } else expect(engine).toMatchObject({ binary: "localBuild", localBuildRefused: null });
    } finally {
      await vm.powerdown(120_000);
    }
  }, 60 * 60_000);

  it("a reboot into an initrd with the build's keys (as a slot written from a bundle has) unlocks over ssh with the host key the device made, and a stranger's key is refused", async () => {
    // A/B layout: the ESP's unlock archive, loaded after the slot's initrd, carries the device's dropbear keys and
    // the owner's authorized_keys. Without it this boot would show the build's host key (hostKeys[0]).
    const entry = readOnBootPartition(disk, "loader/entries/sovereign-a.conf");
    expect(entry.split("\n").filter((l) => l.startsWith("initrd "))).toEqual(["initrd /sovereign/a/initrd.img", "initrd /sovereign/node-unlock.cpio"]);
    const archive = run("sh", ["-c", `MTOOLS_SKIP_CHECK=1 mdir -b -/ -i '${disk}@@1M' ::/sovereign/`]);
    expect(archive).toContain("node-unlock.cpio");
    run("sh", ["-c", `MTOOLS_SKIP_CHECK=1 mcopy -o -i '${disk}@@1M' '${buildInitrd}' ::/sovereign/a/initrd.img`]);
    // Until dropbear is up the stranger gets a connection error; once it is up, a refusal.
    // The stranger's refusal, the owner's unlock and /healthz in one wait, so that a wedged boot (bootUntil) is made again whole.
    const refusals = new Map<Vm, { status: number | null; output: string }>();
    const unlocked = new Set<Vm>();
    const { vm } = await bootUntil({ dir: out, disk, accel, tag: "second", forwardSsh: true }, "dropbear to refuse an unknown key, an ssh unlock, then /healthz 200", 35 * 60_000, async (v) => {
      if (!refusals.has(v)) {
        const r = ssh(v, stranger, passphrase);
        if (/Permission denied/.test(r.output)) refusals.set(v, r);
      } else if (!unlocked.has(v)) {
        if (sshUnlock(v, key, passphrase) !== undefined) unlocked.add(v);
      } else if (await healthz(v.port)) return true;
      return undefined;
    });
    try {
      expect(refusals.get(vm)?.status).not.toBe(0);
      hostKeys.push(hostKeyOf(vm));
      // First boot replaced the build's dropbear host keys with the device's own; the archive brings them to any slot's initrd.
      expect(hostKeys[1]).not.toBe(hostKeys[0]);
      measured.rebootToHealthzSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
      // The console screen at every boot, not only the first.
      await waitFor("the console status screen after reboot", 5 * 60_000, () => (/certificate\s+[0-9A-F:]{95}/.test(readText(vm.serial0)) ? true : undefined), vm);
      expect(readText(vm.serial0)).not.toContain("re-encrypting");
    } finally {
      await vm.powerdown(120_000);
    }
  }, 50 * 60_000);
});
