// The A/B layout, booted (issue 14): an x86_64 image built with `--layout ab` (ESP, slots A and B, a
// LUKS2 data partition) runs in qemu. v1 is claimed and given a memory, a user and an API key; a
// tampered bundle is refused with nothing written to the inactive slot; v2 arrives on a USB stick
// labelled SOVUPDATE plugged in while the node runs, and after the restart into it the trial serves the
// same data, identity and key, and the health gate commits it; its first try hangs with PID 1 frozen, and the machine's
// hardware watchdog resets it, a try that systemd-boot counts. v3, whose node exits at start, is uploaded
// through the panel's route; its trial boot fails, the guard gives it up, and the node is back on v2 on
// its own, with the rollback naming 0.9.3. Slots are read-only under dm-verity: slot A's bytes are unchanged by
// running on it. A byte changed on the committed slot's disk stops its boot in the initramfs, which gives the
// slot up so that the node comes back on the other slot (v1), reporting why; with no good slot left it says so. Each guest reboot ends qemu (-no-reboot); the test starts the
// next boot, as the machine's firmware would.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slotVerityOf, systemdBoot, type SlotVerity } from "../../core/bootSelection.js";
import { storedSizeOf, type BundleManifest, type BundlePart } from "../../core/updateBundle.js";
import { writeBundle } from "../../image/lib/bundle.js";
import { formatSlotVerity, verifySlotVerity } from "../../image/lib/slotVerity.js";
import { readLuks2Header } from "../../image/lib/luksPayload.js";
import { publicKeyOf } from "../../core/ed25519.js";
import { readBundleHead } from "../../services/update/bundleReader.js";
import { verifyBundleFile } from "../../services/update/verifyBundleFile.js";
import { requireTools } from "../helpers/requireTool.js";
import { bootToHealthz, bootUntil, bootVm, guestOopsed, pickAccel, readText, statusLine, waitFor, waitForHealthz, type BootOptions, type Vm } from "./imageQemu.js";
import { bootPartitionDir, buildImage, buildLock, decompressDisk, imageCache, putOnBootPartition, readOnBootPartition, renameOnBootPartition, repoRoot, requireRoot, run, type BuiltImage } from "./imageBuild.js";
import { httpsJson, httpsUpload, servedFingerprint, withJournal } from "./nodeHttps.js";
import { NETWORK_FILE } from "../../image/lib/wifiConfig.js";
import { expectNetworkFileImported, wifiFixture } from "./networkFileStatus.js";

const out = join(repoRoot, "test-artifacts/image-ab");
const MiB = 1024 * 1024;
const KEY_WAIT_S = 20;
/** PID 1's watchdog timeout in the suite's boots but the hung one (machine()). */
const EMULATED_WATCHDOG_SEC = 300;
const enabled = requireTools("mmdebstrap", "cryptsetup", "mkfs.ext4", "mkfs.vfat", "mcopy", "sfdisk", "zstd", "debugfs", "flock", "qemu-system-x86_64") && requireRoot();
const testEnv = { SOVEREIGN_IMAGE_TEST_PBKDF_KIB: "65536", SOVEREIGN_IMAGE_STATUS_TTY: "ttyS1", SOVEREIGN_IMAGE_TEST_KEY_WAIT_S: String(KEY_WAIT_S), SOVEREIGN_IMAGE_TEST_HEALTH_GATE_S: "20" };

interface Partition {
  name: string;
  start: number;
  size: number;
}

function partitions(disk: string): Partition[] {
  const t = JSON.parse(run("sfdisk", ["--json", disk])) as { partitiontable: { partitions: { start: number; size: number; name?: string }[] } };
  return t.partitiontable.partitions.map((p) => ({ name: p.name ?? "", start: p.start * 512, size: p.size * 512 }));
}

function partition(disk: string, name: string): Partition {
  const p = partitions(disk).find((x) => x.name === name);
  if (!p) throw new Error(`no partition ${name} in ${disk}`);
  return p;
}

/** sha256 of a byte range of a file. */
async function sha256Range(file: string, start: number, size: number): Promise<string> {
  const h = createHash("sha256");
  for await (const c of createReadStream(file, { start, end: start + size - 1, highWaterMark: 8 * MiB })) h.update(c as Buffer);
  return h.digest("hex");
}

/** Copies a byte range of a file into its own file. */
async function extractRange(file: string, start: number, size: number, dest: string): Promise<void> {
  const fd = openSync(dest, "w");
  try {
    for await (const c of createReadStream(file, { start, end: start + size - 1, highWaterMark: 8 * MiB })) writeSync(fd, c as Buffer);
  } finally {
    closeSync(fd);
  }
}

/** A bundle part's bytes as the slot gets them: its stored range, gunzipped when the part is stored gzip. */
async function extractPart(bundle: string, partsStart: number, part: BundlePart, dest: string): Promise<void> {
  const start = partsStart + part.offset;
  const stored = storedSizeOf(part);
  if (!part.encoding) return extractRange(bundle, start, stored, dest);
  await pipeline(createReadStream(bundle, { start, end: start + stored - 1, highWaterMark: 8 * MiB }), createGunzip(), createWriteStream(dest));
  expect(statSync(dest).size).toBe(part.size);
}

async function bundleLayout(path: string): Promise<{ manifest: BundleManifest; partsStart: number }> {
  const fh = await open(path, "r");
  try {
    const { head, envelope } = await readBundleHead(fh);
    return { manifest: envelope.manifest, partsStart: head.length };
  } finally {
    await fh.close();
  }
}

/** `sovereign image bundle` through the CLI, under the image suites' build lock. */
function buildBundleFile(path: string, version: string): void {
  if (process.env.SOVEREIGN_IMAGE_E2E_REUSE === "1" && existsSync(path)) return;
  const cli = [process.execPath, "--import", "tsx", join(repoRoot, "appliance/cli/main.ts"), "image", "bundle", "--board", "x86_64", "--unlock", "usb-key", "--version", version, "--out", path, "--cache", imageCache, "--json"];
  const r = spawnSync("flock", [buildLock(cli), ...cli], { cwd: repoRoot, env: { ...process.env, ...testEnv }, encoding: "utf8", maxBuffer: 64 << 20 });
  writeFileSync(`${path}.stderr.log`, r.stderr ?? "");
  if (r.status !== 0) throw new Error(`image bundle failed (exit ${r.status}):\n${(r.stderr ?? "").slice(-4000)}`);
}

/**
 * v3: v2's parts with a drop-in that gives the node a port it refuses (so it exits at start, every
 * start), signed with the build key as version 0.9.3: a release that passed signing but is broken.
 */
async function brokenBundle(v2: string, dest: string): Promise<void> {
  const { manifest, partsStart } = await bundleLayout(v2);
  const dir = join(out, "v3-parts");
  mkdirSync(dir, { recursive: true });
  const inputs = [];
  for (const p of manifest.parts) {
    const f = join(dir, p.name);
    await extractPart(v2, partsStart, p, f);
    inputs.push({ name: p.name, target: p.target, path: f });
  }
  const dropIn = join(dir, "90-broken.conf");
  writeFileSync(dropIn, "[Service]\nEnvironment=SOVEREIGN_PORT=not-a-port\n", { mode: 0o644 });
  const root = join(dir, "rootfs.ext4");
  // The part is the filesystem and its verity tree: changed, the filesystem gets a new tree and root hash, which
  // the release signs (a slot the signer did not hash would not mount: that is a different failure).
  const fsBytes = manifest.verity?.hashOffset ?? 0;
  expect(fsBytes).toBeGreaterThan(0);
  truncateSync(root, fsBytes);
  run("debugfs", ["-w", "-R", "mkdir /etc/systemd/system/sovereign.service.d", root]);
  run("debugfs", ["-w", "-R", `write ${dropIn} /etc/systemd/system/sovereign.service.d/90-broken.conf`, root]);
  const { verity } = await formatSlotVerity(root, fsBytes);
  await writeBundle(dest, { version: "0.9.3", board: "x86_64", verity }, inputs, new Uint8Array(readFileSync(join(imageCache, "build-key.ed25519"))));
  rmSync(dir, { recursive: true, force: true });
}

/** A FAT stick labelled SOVUPDATE with one bundle at its top. */
function updateStick(bundle: string, dest: string): void {
  rmSync(dest, { force: true });
  const kib = Math.ceil((statSync(bundle).size + 64 * MiB) / 1024);
  run("mkfs.vfat", ["-F", "32", "-n", "SOVUPDATE", "-C", dest, String(kib)]);
  run("sh", ["-c", `MTOOLS_SKIP_CHECK=1 mcopy -i ${dest} ${bundle} ::/sovereign-x86_64.sovupdate`]);
}

describe.runIf(enabled)("x86_64 A/B image: update, trial boot, health gate, rollback (qemu)", () => {
  let built: BuiltImage;
  let disk: string;
  let usbKey: string;
  let accel: "kvm" | "tcg";
  const v2 = join(out, "v2.sovupdate");
  const v3 = join(out, "v3.sovupdate");
  const tampered = join(out, "v2-tampered.sovupdate");
  const measured: Record<string, number | string> = {};
  let pinned = "";
  let session: Record<string, string> = {};
  let apiKey = "";
  let v1Verity: SlotVerity | null = null;
  let v2Verity: SlotVerity | null = null;

  beforeAll(async () => {
    built = buildImage(out, ["--board", "x86_64", "--unlock", "usb-key", "--layout", "ab", "--version", "0.9.1", "--compress", "zstd"], testEnv);
    buildBundleFile(v2, "0.9.2");
    if (!(process.env.SOVEREIGN_IMAGE_E2E_REUSE === "1" && existsSync(v3))) await brokenBundle(v2, v3);
    // One byte of the root part flipped, halfway into its stored bytes: only the part's (stored) sha256 can tell.
    copyFileSync(v2, tampered);
    const { manifest, partsStart } = await bundleLayout(tampered);
    const root = manifest.parts[0];
    if (!root) throw new Error("v2 has no parts");
    const at = partsStart + root.offset + Math.floor(storedSizeOf(root) / 2);
    const fd = openSync(tampered, "r+");
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = (b[0] ?? 0) ^ 0xff;
    writeSync(fd, b, 0, 1, at);
    closeSync(fd);
    // Each boot starts from fresh firmware variables (bootVm keeps a tag's file): one left by an earlier run,
    // made with other devices attached, names a boot path that is no longer there and OVMF falls to its shell.
    for (const f of readdirSync(out)) if (/^vars-.*\.fd$/.test(f)) rmSync(join(out, f), { force: true });
    disk = decompressDisk(built, out);
    // Room for the data partition to grow into (uploads are stored there before they are applied).
    truncateSync(disk, statSync(disk).size + 2048 * MiB);
    // The owner's network file (Wi-Fi, country, NTP servers): imported at v1's first boot, it must outlive the updates.
    putOnBootPartition(disk, wifiFixture, NETWORK_FILE);
    usbKey = join(out, "usbkey.img");
    copyFileSync(built.usbKeyImage ?? "", usbKey);
    accel = pickAccel(out);
  }, 60 * 60_000);

  afterAll(() => {
    if (built) writeFileSync(join(out, "measured.json"), JSON.stringify({ accel, ...measured }, null, 2));
  });

  /** A request as a patient client makes it: a node shedding load under emulation (503, retryAfterSeconds) is asked again. */
  const api = async (vm: Vm, method: string, path: string, body?: unknown, auth: Record<string, string> = session): Promise<{ status: number; json: Record<string, unknown>; cookies: string[] }> => {
    for (let attempt = 1; ; attempt++) {
      let r: Awaited<ReturnType<typeof httpsJson>>;
      try {
        r = await httpsJson(vm.httpsPort ?? 0, pinned, method, path, body ?? {}, auth);
      } catch (err) {
        // A connection reset by a guest busy writing a slot is asked again, for reads only (a POST might have landed).
        if (method === "GET" && attempt < 10 && /ECONNRESET|ECONNREFUSED|socket hang up|EPIPE|timed out/.test(String(err))) {
          await new Promise((res) => setTimeout(res, 5000));
          continue;
        }
        return withJournal(vm, `${method} ${path}`)(err as Error);
      }
      if (r.status !== 503 || attempt >= 30) return r;
      const wait = Number((r.json.error as { details?: { retryAfterSeconds?: number } } | undefined)?.details?.retryAfterSeconds ?? 5);
      await new Promise((res) => setTimeout(res, Math.min(wait, 30) * 1000));
    }
  };
  /** An upload, sent again when the node turned it away before reading it (503 under load, or the connection reset). */
  const upload = async (vm: Vm, file: string): Promise<{ status: number; json: Record<string, unknown> }> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await httpsUpload(vm.httpsPort ?? 0, pinned, "/api/update/bundle", file, { authorization: `Bearer ${apiKey}` });
        if (r.status !== 503 || attempt >= 5) return r;
      } catch (err) {
        if (attempt >= 5 || !/ECONNRESET|EPIPE|socket hang up/.test(String(err))) return withJournal(vm, `upload ${file}`)(err as Error);
      }
      await new Promise((res) => setTimeout(res, 15_000));
    }
  };
  const status = async (vm: Vm): Promise<Record<string, unknown>> => (await api(vm, "GET", "/api/update", undefined, { authorization: `Bearer ${apiKey}` })).json;
  /**
   * The machine every boot runs on: a PC with a hardware watchdog, as a board has. PID 1 gets 5 min to pet it instead
   * of the image's 30 s (BootOptions.watchdogSec): beside the other lane's build this guest can go that long without a
   * turn, which CI saw reset a healthy boot. The hung trial keeps the image's 30 s.
   */
  const machine = (tag: string): BootOptions => ({ dir: out, disk, usbKey, accel, tag, forwardHttps: true, watchdog: true, watchdogSec: EMULATED_WATCHDOG_SEC });
  const boot = async (tag: string): Promise<Vm> => await bootToHealthz({ ...machine(tag), usbHost: true }, `/healthz 200 (${tag})`, 15 * 60_000);
  /**
   * A boot whose guest is expected to reboot on its own (a slot given up, a failed trial): with -no-reboot that ends
   * qemu. A TCG kernel oops (int3 while the kernel patches itself, seen in CI) also reboots, so that boot is made once more.
   */
  const bootToReboot = async (tag: string, what: string, timeoutMs: number): Promise<Vm> => {
    for (let attempt = 1; ; attempt++) {
      const vm = await bootVm(machine(attempt === 1 ? tag : `${tag}-retry`));
      try {
        await rebooted(vm, what, timeoutMs);
      } finally {
        await vm.powerdown(60_000);
      }
      if (attempt >= 2 || !guestOopsed(vm)) return vm;
    }
  };
  /**
   * The guest reboots (into a trial, or out of one): with -no-reboot that ends qemu. It is the guest's own reboot (the
   * kernel says so), or an oops that bootToReboot boots again: the machine's watchdog would reset it without a word.
   */
  const rebooted = async (vm: Vm, what: string, timeoutMs: number): Promise<void> => {
    let gone = false;
    void vm.exited.then(() => (gone = true));
    await waitFor(`${what}: the guest's reboot`, timeoutMs, () => (gone ? true : undefined), vm);
    const serial = readText(vm.serial0);
    if (!/reboot: Restarting system/.test(serial) && !guestOopsed(vm)) throw new Error(`${what}: qemu ended with no reboot of the guest's own (a watchdog reset?)\n${serial.slice(-4000)}`);
  };

  it("lays out the ESP, two slots and an encrypted data partition; slot A boots, holds no secret, and names its slots", async () => {
    expect(partitions(disk).map((p) => p.name)).toEqual(["sovereign-esp", "sovereign-root-a", "sovereign-root-b", "sovereign-data"]);
    const files = run("sh", ["-c", `MTOOLS_SKIP_CHECK=1 mdir -b -/ -i ${disk}@@1M ::/`]);
    for (const f of ["sovereign/a/vmlinuz", "sovereign/a/initrd.img", "loader/entries/sovereign-a.conf", "loader/loader.conf"]) expect(files).toContain(`::/${f}`);
    const entry = readOnBootPartition(disk, "loader/entries/sovereign-a.conf");
    const loader = readOnBootPartition(disk, "loader/loader.conf");
    // Slot A is opened read-only through dm-verity with the root hash the build signed into its entry.
    expect(entry).toMatch(/options root=\/dev\/mapper\/sovslot sovereign\.slot=a sovereign\.roothash=[0-9a-f]{64} sovereign\.hashoffset=\d+ ro fsck\.mode=skip /);
    const slotAVerity = slotVerityOf(/^options (.*)$/m.exec(entry)?.[1] ?? "");
    expect(slotAVerity).not.toBeNull();
    v1Verity = slotAVerity;
    expect(systemdBoot.inspect(new Map([["loader/loader.conf", loader], ["loader/entries/sovereign-a.conf", entry]]))).toEqual({ committed: "a", trial: null, triesLeft: null });

    const slotA = partition(disk, "sovereign-root-a");
    const root = join(out, "slot-a.ext4");
    await extractRange(disk, slotA.start, slotA.size, root);
    expect(await verifySlotVerity(root, v1Verity!)).toBe(true);
    measured.slotADigest = await sha256Range(disk, slotA.start, slotA.size);
    const config = JSON.parse(run("debugfs", ["-R", "cat /etc/sovereign/config.json", root])) as { update: Record<string, unknown> };
    expect(config.update).toMatchObject({ slotA: "/dev/disk/by-partlabel/sovereign-root-a", slotB: "/dev/disk/by-partlabel/sovereign-root-b", bootDir: "/boot/efi", bootMethod: "systemd-boot" });
    // Slots are not encrypted: the build key, the recovery key and the node's data are on the data partition only.
    const etc = run("debugfs", ["-R", "ls /etc/sovereign", root]);
    for (const secret of ["build.key", "recovery.key"]) expect(etc).not.toContain(secret);
    expect(run("debugfs", ["-R", "cat /opt/sovereign/package.json", root])).toContain('"version": "0.9.1"');
    rmSync(root, { force: true });

    // The v2 bundle: signed by the build key, for this board; its root pins the same key (so the version after
    // it is accepted), reports 0.9.2, and holds no secret either.
    const buildKey = Buffer.from(publicKeyOf(new Uint8Array(readFileSync(join(imageCache, "build-key.ed25519"))))).toString("hex");
    const verified = await verifyBundleFile(v2, { trustedKeys: [buildKey], board: "x86_64", runningVersion: "0.9.1" });
    expect(verified.manifest.parts.map((p) => [p.name, p.target])).toEqual([["rootfs.ext4", "root"], ["vmlinuz", "boot"], ["initrd.img", "boot"]]);
    const { manifest, partsStart } = await bundleLayout(v2);
    const v2root = join(out, "v2-root.ext4");
    const rootPart = manifest.parts[0];
    if (!rootPart) throw new Error("v2 has no parts");
    // The root (ext4 and its verity tree) travels gzipped: what the bundle saves.
    expect(rootPart.encoding).toBe("gzip");
    measured.v2RootBytes = rootPart.size;
    measured.v2RootStoredBytes = storedSizeOf(rootPart);
    measured.v2BundleBytes = statSync(v2).size;
    await extractPart(v2, partsStart, rootPart, v2root);
    // The signed root hash is the tree's in the root part.
    expect(manifest.verity).toBeDefined();
    expect(await verifySlotVerity(v2root, manifest.verity!)).toBe(true);
    v2Verity = manifest.verity!;
    expect((JSON.parse(run("debugfs", ["-R", "cat /etc/sovereign/config.json", v2root])) as { update: { trustedKeys: string[] } }).update.trustedKeys).toEqual([buildKey]);
    expect(run("debugfs", ["-R", "cat /opt/sovereign/package.json", v2root])).toContain('"version": "0.9.2"');
    expect(run("debugfs", ["-R", "ls /etc/sovereign", v2root])).not.toMatch(/build\.key|recovery\.key/);
    rmSync(v2root, { force: true });

    const data = partition(disk, "sovereign-data");
    const header = join(out, "data-header.bin");
    await extractRange(disk, data.start, 16 * MiB, header);
    expect(readLuks2Header(header).label).toBe("sovereign-luks");
    const slotB = partition(disk, "sovereign-root-b");
    measured.slotBytes = slotB.size;
    measured.slotBEmptyDigest = await sha256Range(disk, slotB.start, slotB.size);
  }, 10 * 60_000);

  it("v1: first boot serves; claimed, it gets a memory, a user and an API key; a tampered bundle is refused with slot B untouched; v2 on a stick plugged in is applied, and the node restarts into it", async () => {
    const vm = await boot("v1-first");
    try {
      measured.firstBootToHealthzSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
      pinned = await waitFor("the console status screen", 5 * 60_000, () => /certificate\s+([0-9A-F:]{95})/.exec(readText(vm.serial0))?.[1], vm);
      expect(await waitFor("TLS on 8443", 5 * 60_000, () => servedFingerprint(vm.httpsPort ?? 0).catch(() => undefined), vm)).toBe(pinned);
      // First boot prints the code on the console ("… enter the setup code XXXX-…").
      const code = await waitFor("the setup code on the console", 5 * 60_000, () => /setup code:? ([A-Z0-9]{4}(?:-[A-Z0-9]{4}){3})/.exec(readText(vm.serial0))?.[1], vm);
      const claimed = await api(vm, "POST", "/api/setup/claim", { code, username: "admin", password: "correct horse battery staple" }, {});
      expect(claimed.status, JSON.stringify(claimed.json)).toBe(201);
      session = { cookie: claimed.cookies.map((c) => c.split(";")[0]).join("; "), "x-csrf-token": String(claimed.json.csrfToken) };
      expect((await api(vm, "POST", "/api/memory", { text: "The spare key is under the blue pot." })).status).toBe(201);
      expect((await api(vm, "POST", "/api/users", { username: "uma", password: "uma password 12", role: "user" })).status).toBe(201);
      const key = await api(vm, "POST", "/api/keys", { name: "e2e", scopes: ["admin", "memory:read"] });
      expect(key.status).toBe(201);
      apiKey = String(key.json.key);

      const s = await status(vm);
      expect(s).toMatchObject({ configured: true, runningVersion: "0.9.1", bootedSlot: "a", inactiveSlot: "b", rootVerity: v1Verity });
      const line = await waitFor("the status line", 5 * 60_000, () => statusLine(vm), vm);
      writeFileSync(join(out, "status-v1.txt"), line);
      expect(line).toContain("failed=[]");
      // Root is the RAM overlay over the read-only verity slot; PID 1 opened the machine's hardware watchdog and pets it,
      // with the timeout the boot's command line gave (the machine's SMBIOS through systemd-boot).
      expect(line).toContain(" rootfs=overlayfs ");
      expect(line).toContain(" watchdog=5min ");
      expect(line).toMatch(/ wdt=\[i6300ESB_timer:active,/);
      expectNetworkFileImported(line);

      const refused = await upload(vm, tampered);
      // Refused at once (a 4xx), or accepted for the background verify that then refuses it: either way, never applied.
      const outcome = await waitFor("the tampered bundle's verdict", 15 * 60_000, async () => {
        const st = await status(vm);
        const last = st.lastResult as { outcome?: string; code?: string } | null;
        return refused.status >= 400 ? { outcome: "refused", code: String(refused.json.code) } : last?.outcome && !st.busy ? last : undefined;
      }, vm);
      expect(outcome.outcome).toBe("refused");
      expect(outcome.code).toMatch(/UPDATE_/);
      measured.tamperedRefusedWith = String(outcome.code);
      expect((await status(vm)).pending).toBeNull();
      // Read from the host while the guest runs: the apply fsyncs what it writes, and nothing was.
      const slotB = partition(disk, "sovereign-root-b");
      expect(await sha256Range(disk, slotB.start, slotB.size)).toBe(measured.slotBEmptyDigest);

      // v2 arrives on a USB stick plugged in while the node runs: udev starts the stick's unit, which applies it.
      const stick = join(out, "sovupdate-v2.img");
      updateStick(v2, stick);
      await vm.monitor(`drive_add 0 if=none,id=sovupd,format=raw,file=${stick}`);
      await vm.monitor("device_add usb-storage,bus=xhci.0,drive=sovupd,id=sovupddev,removable=on");
      const t0 = Date.now();
      const pending = await waitFor("the stick's bundle applied", 20 * 60_000, async () => ((await status(vm)).pending as { version?: string; slot?: string } | null) ?? undefined, vm);
      expect(pending).toMatchObject({ version: "0.9.2", slot: "b" });
      measured.usbApplySeconds = Math.round((Date.now() - t0) / 1000);
      const restart = await api(vm, "POST", "/api/update/restart", {}, { authorization: `Bearer ${apiKey}` });
      expect(restart.status, JSON.stringify(restart.json)).toBeLessThan(300);
      await rebooted(vm, "restart into v2", 10 * 60_000);
    } finally {
      await vm.powerdown(60_000);
    }
    // First boot, a claim, a memory, a user, a key, an applied update and a reboot later, slot A is the bytes
    // the build made: the running system wrote to RAM over it and to the data partition, never to the slot.
    const slotA = partition(disk, "sovereign-root-a");
    expect(await sha256Range(disk, slotA.start, slotA.size)).toBe(measured.slotADigest);
  }, 60 * 60_000);

  /** Flips one bit of a slot's ext4 superblock on the disk (what a bad block or a tamperer would change); returns the undo. */
  const flipSlotByte = (label: string): (() => void) => flipByteAt(partition(disk, label).start + 1024 + 0x78);
  /** Flips one bit in the first block of a file in a slot's ext4 (its place read with debugfs); returns the offset in the slot and the undo. */
  const flipFileByte = (label: string, path: string): { inSlot: number; restore: () => void } => {
    const fs = `${disk}?offset=${partition(disk, label).start}`;
    const block = Number(run("debugfs", ["-R", `bmap ${path} 0`, fs]).trim().split("\n").pop());
    const blockSize = Number(/Block size:\s+(\d+)/.exec(run("debugfs", ["-R", "stats", fs]))?.[1]);
    if (!(block > 0 && blockSize > 0)) throw new Error(`debugfs found no block for ${path} in ${label}`);
    const inSlot = block * blockSize + 100;
    return { inSlot, restore: flipByteAt(partition(disk, label).start + inSlot) };
  };
  const flipByteAt = (at: number): (() => void) => {
    const fd = openSync(disk, "r+");
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    const original = b[0] ?? 0;
    writeSync(fd, Buffer.from([original ^ 0x01]), 0, 1, at);
    closeSync(fd);
    return () => {
      const fix = openSync(disk, "r+");
      writeSync(fix, Buffer.from([original]), 0, 1, at);
      closeSync(fix);
    };
  };

  /**
   * Appended to a boot entry's options, it makes that boot hang: PID 1 starts this one command instead of the system's
   * units (systemd-run-generator), and the command freezes PID 1 with cgroup v2's freezer. From then on nothing pets the
   * hardware watchdog: a hang with no panic and no reboot of its own, as a wedged driver or PID 1 would be.
   */
  const HANG_OPTIONS = `systemd.run="/bin/sh -c 'echo 1 > /sys/fs/cgroup/init.scope/cgroup.freeze'" systemd.run_success_action=none systemd.run_failure_action=none`;

  it("the first try of v2's trial hangs with PID 1 frozen: the hardware watchdog resets the machine, and systemd-boot has counted the try", async () => {
    const armed = bootPartitionDir(disk, "loader/entries").find((n) => /^sovereign-b\+\d+\.conf$/.test(n));
    if (!armed) throw new Error(`no armed entry for slot b: ${bootPartitionDir(disk, "loader/entries").join(", ")}`);
    const tries = Number(/\+(\d+)\.conf$/.exec(armed)?.[1]);
    expect(tries).toBeGreaterThan(1);
    const original = readOnBootPartition(disk, `loader/entries/${armed}`);
    const hung = join(out, "entry-hung.conf");
    writeFileSync(hung, original.replace(/^(options .*)$/m, `$1 ${HANG_OPTIONS}`));
    putOnBootPartition(disk, hung, `loader/entries/${armed}`);
    let counted = armed;
    try {
      // The image's own 30 s. qemu pauses when its watchdog fires, so the reset is known to be the watchdog's. A boot whose
      // kernel oopsed under TCG (bootUntil) is made once more: systemd-boot counted that try too.
      const { vm, boots: spent } = await bootUntil({ ...machine("v2-trial-hang"), watchdogSec: undefined }, "the hardware watchdog to fire", 15 * 60_000, async (v) => ((await v.runState()) === "paused (watchdog)" ? true : undefined));
      try {
        measured.hungBootToWatchdogResetSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
        // The kernel neither panicked nor rebooted: the watchdog was the only way out.
        expect(readText(vm.serial0)).not.toMatch(/Kernel panic|reboot: Restarting system/);
      } finally {
        await vm.monitor("quit").catch(() => "");
        await vm.powerdown(10_000);
      }
      // systemd-boot counted the try before it started the kernel: one fewer left, one more done. The next try boots B again.
      counted = `sovereign-b+${tries - spent}-${spent}.conf`;
      expect(bootPartitionDir(disk, "loader/entries").sort()).toEqual(["sovereign-a.conf", counted]);
    } finally {
      // The hang was this try's alone: the entry gets its options back under the name it has now.
      const now = bootPartitionDir(disk, "loader/entries").find((n) => n.startsWith("sovereign-b")) ?? counted;
      writeFileSync(hung, original);
      putOnBootPartition(disk, hung, `loader/entries/${now}`);
    }
  }, 30 * 60_000);

  it("v2 boots on trial with the same data, identity and key; the health gate commits it", async () => {
    const vm = await boot("v2-trial");
    try {
      measured.rebootIntoUpdateToHealthzSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
      // A reboot with the key stick: unlocked, and first boot (re-encryption, identity) did not run again.
      expect(readText(vm.serial0)).toContain("cryptsetup: sovdata: set up successfully");
      expect(readText(vm.serial0)).not.toContain("re-encrypting");
      const s = await status(vm);
      // Booted through the armed entry, which carried the bundle's signed root hash.
      expect(s).toMatchObject({ runningVersion: "0.9.2", bootedSlot: "b", rootVerity: v2Verity });
      expect((s.trial as { version?: string } | null)?.version).toBe("0.9.2");
      const line = await waitFor("the status line", 5 * 60_000, () => statusLine(vm), vm);
      writeFileSync(join(out, "status-v2.txt"), line);
      process.stderr.write(`v2 trial: ${/esp=\S+ nodeesp=\S+/.exec(line)?.[0] ?? line}\n`);
      expect(line).toContain("failed=[]");
      // The node's sandbox sees the boot partition it commits the trial on (vfat, group-writable).
      expect(line).toMatch(/nodeesp=\[\/boot\/efi,drwxrwx---,\d+,msdos\]/);
      // The network file's settings live on the data partition: the new slot has them without a new import.
      expectNetworkFileImported(line);
      // The same node: the memory, the user, and the key it is asked with.
      const mem = await api(vm, "GET", "/api/memory", undefined, { authorization: `Bearer ${apiKey}` });
      expect(JSON.stringify(mem.json)).toContain("blue pot");
      expect(JSON.stringify((await api(vm, "GET", "/api/users", undefined, { authorization: `Bearer ${apiKey}` })).json)).toContain("uma");
      expect(await waitFor("the certificate the console printed before", 60_000, () => servedFingerprint(vm.httpsPort ?? 0).catch(() => undefined), vm)).toBe(pinned);
      const committed = await waitFor("the health gate's commit", 15 * 60_000, async () => {
        const st = await status(vm);
        return st.trial === null && (st.lastResult as { outcome?: string } | null)?.outcome === "committed" ? st : undefined;
      }, vm);
      measured.trialToCommittedSeconds = Math.round((Date.now() - vm.startedAt) / 1000);
      expect((committed.slots as { slot: string; version: string | null; condition: string }[]).find((x) => x.slot === "b")).toMatchObject({ version: "0.9.2", condition: "good" });
    } finally {
      await vm.powerdown(60_000);
    }
  }, 90 * 60_000);

  /**
   * Slot B (v2, committed) was changed on the disk by `change` (which returns its undo): the boot of B reboots on its
   * own, the serial console names the changed block and why B is given up, and v1 in slot A serves and reports the
   * rollback. The suite goes on from v2 on slot B: the byte and the boot entry are put back as they were.
   */
  const slotGivenUp = async (o: {
    tag: string; what: string; change: () => () => void; corrupted: RegExp; serialSays: string; reasonSays: string;
    servingKey: string; reportKey: string; onV1?: (vm: Vm) => Promise<void>;
  }): Promise<void> => {
    const restore = o.change();
    try {
      const t0 = Date.now();
      const failed = await bootToReboot(o.tag, o.what, 15 * 60_000);
      const serial = readText(failed.serial0);
      expect(serial).toMatch(o.corrupted);
      expect(serial).toContain(o.serialSays);
      expect(bootPartitionDir(disk, "loader/entries").sort()).toEqual(["sovereign-a.conf", "sovereign-b+0-1.conf"]);
      const vm = await boot(`v1-after-${o.tag}`);
      try {
        measured[o.servingKey] = Math.round((Date.now() - t0) / 1000);
        const s = await status(vm);
        expect(s).toMatchObject({ runningVersion: "0.9.1", bootedSlot: "a", rollback: { failedSlot: "b", failedVersion: "0.9.2" } });
        expect(String((s.rollback as { reason?: string }).reason)).toContain(o.reasonSays);
        measured[o.reportKey] = JSON.stringify(s.rollback);
        await o.onV1?.(vm);
      } finally {
        await vm.powerdown(120_000);
      }
    } finally {
      restore();
      if (bootPartitionDir(disk, "loader/entries").includes("sovereign-b+0-1.conf")) renameOnBootPartition(disk, "loader/entries/sovereign-b+0-1.conf", "sovereign-b.conf");
    }
  };

  it("the committed slot changed on the disk after it was signed: the initramfs gives it up and the node comes back on v1 in slot A, which says why", async () => {
    await slotGivenUp({
      tag: "v2-changed", what: "the boot of the changed slot",
      // The ext4 superblock (1 KiB into slot B, which v2 runs from, committed): the first block any mount reads.
      change: () => flipSlotByte("sovereign-root-b"),
      corrupted: /device-mapper: verity: .*data block 0 is corrupted/,
      serialSays: "sovereign: slot b does not match its signed root hash (dm-verity refused its first blocks); it is given up, and the next boot starts slot a",
      reasonSays: "does not match its signed root hash (dm-verity refused its first blocks) at boot: the initramfs gave it up and started slot a",
      servingKey: "changedCommittedSlotToServingSeconds", reportKey: "slotGivenUpReport",
      onV1: async (vm) => {
        // v1 runs on the data v2 had migrated: the snapshot from before v2 is back, with the memory made under v1.
        const mem = await api(vm, "GET", "/api/memory", undefined, { authorization: `Bearer ${apiKey}` });
        expect(JSON.stringify(mem.json)).toContain("blue pot");
      },
    });
  }, 60 * 60_000);

  it("a block deep in the committed slot changed, read only once v2 runs: dm-verity reports it, the slot is given up while it runs, and v1 in slot A says why", async () => {
    await slotGivenUp({
      tag: "v2-changed-deep", what: "the watcher's reboot out of the changed slot",
      // The node's entry point in slot B: past the first MiB the initramfs reads, so that boot goes on and the node's
      // start reads the changed block (an I/O error), which sovereign-verity-watch finds in dm-verity's status.
      change: () => {
        const flip = flipFileByte("sovereign-root-b", "/opt/sovereign/dist/appliance/cli/main.js");
        try {
          expect(flip.inSlot).toBeGreaterThan(1024 * 1024);
        } catch (e) {
          flip.restore();
          throw e;
        }
        return flip.restore;
      },
      corrupted: /device-mapper: verity: .*data block \d+ is corrupted/,
      serialSays: "sovereign: slot b had a block that does not match its signed root hash (dm-verity, on a read); it is given up, and the next boot starts slot a",
      reasonSays: "had a block that does not match its signed root hash (dm-verity, on a read) while it ran: the node gave it up and restarted into slot a",
      servingKey: "changedDeepBlockToServingSeconds", reportKey: "slotGivenUpWhileRunningReport",
    });
  }, 60 * 60_000);

  it("v2 again, then v3 is uploaded through the panel's route and written to slot A", async () => {
    const vm = await boot("v2-again");
    try {
      expect(await status(vm)).toMatchObject({ runningVersion: "0.9.2", bootedSlot: "b", trial: null });
      const up = await upload(vm, v3);
      expect(up.status, JSON.stringify(up.json)).toBeLessThan(300);
      const pending = await waitFor("v3 written to slot A", 20 * 60_000, async () => ((await status(vm)).pending as { version?: string; slot?: string } | null) ?? undefined, vm);
      expect(pending).toMatchObject({ version: "0.9.3", slot: "a" });
      await api(vm, "POST", "/api/update/restart", {}, { authorization: `Bearer ${apiKey}` });
      await rebooted(vm, "restart into v3", 10 * 60_000);
    } finally {
      await vm.powerdown(60_000);
    }
  }, 90 * 60_000);

  it("the trial of v3, whose node exits at start, is given up on its own, and the node is back on v2 with its data, the status naming 0.9.3", async () => {
    // The trial of v3: nobody at the device. The node fails its starts, the guard gives the trial up and reboots.
    const failed = await bootVm(machine("v3-trial"));
    const t0 = Date.now();
    try {
      await rebooted(failed, "the failed trial of v3", 15 * 60_000);
    } finally {
      await failed.powerdown(60_000);
    }
    measured.failedTrialBootToRebootSeconds = Math.round((Date.now() - t0) / 1000);

    const vm = await boot("v2-back");
    try {
      measured.failedTrialToServingSeconds = Math.round((Date.now() - t0) / 1000);
      await waitForHealthz(vm, "/healthz on v2 again", 60_000);
      const s = await status(vm);
      expect(s).toMatchObject({ runningVersion: "0.9.2", bootedSlot: "b", trial: null });
      expect(JSON.stringify(s.rollback)).toContain("0.9.3");
      measured.rollbackReport = JSON.stringify(s.rollback);
      const mem = await api(vm, "GET", "/api/memory", undefined, { authorization: `Bearer ${apiKey}` });
      expect(JSON.stringify(mem.json)).toContain("blue pot");
    } finally {
      await vm.powerdown(120_000);
    }
  }, 90 * 60_000);

  it("a changed committed slot with no slot to fall back to (A holds v3, given up): the boot stops in the initramfs, says so, and reboots", async () => {
    const restore = flipSlotByte("sovereign-root-b");
    const t0 = Date.now();
    try {
      const vm = await bootVm(machine("v2-tampered"));
      try {
        await rebooted(vm, "the boot of a changed slot", 15 * 60_000);
      } finally {
        await vm.powerdown(60_000);
      }
      measured.tamperedSlotBootToRebootSeconds = Math.round((Date.now() - t0) / 1000);
      const serial = readText(vm.serial0);
      // The kernel's dm-verity refuses the block; slot A's entry is out of tries, so B stays and the initramfs panics (panic=10 reboots).
      expect(serial).toMatch(/device-mapper: verity: .*data block 0 is corrupted/);
      expect(serial).toContain("no fallback: slot a has no entry that was not given up");
      expect(serial).not.toMatch(/health\s+healthy/);
      expect(bootPartitionDir(disk, "loader/entries")).toContain("sovereign-b.conf");
    } finally {
      restore();
    }
  }, 30 * 60_000);
});
