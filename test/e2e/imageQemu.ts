// Helpers for the image e2e suites: run a built image in qemu and watch its serial ports and forwarded HTTP port.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort } from "../helpers/freePort.js";

export const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
export const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/** The emulated machine per guest architecture: UEFI firmware (OVMF, AAVMF), CPU and its one or two serial ports. */
const MACHINES = {
  x86_64: {
    qemu: "qemu-system-x86_64",
    code: OVMF_CODE,
    vars: OVMF_VARS,
    // Under TCG a Westmere (AES-NI, PCLMUL, SSE4.2; no AVX) rather than qemu64: dm-crypt and OpenSSL then run AES
    // as single emulated instructions instead of table code (a first boot's 442 MiB re-encryption took 50 s with
    // AES-NI against 78 s without, here). qemu64 with +aes alone is not a CPU: OpenSSL's AES-NI code uses SSSE3 and
    // died of SIGILL. Without AVX the x86-64-v3 llama.cpp build is still refused, as on an old PC (the ssh suite).
    machine: (accel: "kvm" | "tcg") => ["-machine", "q35", "-accel", accel, "-cpu", accel === "kvm" ? "host" : "Westmere"],
    serialPorts: 2,
  },
  aarch64: {
    qemu: "qemu-system-aarch64",
    code: "/usr/share/AAVMF/AAVMF_CODE.fd",
    vars: "/usr/share/AAVMF/AAVMF_VARS.fd",
    // Always TCG on an x86 host. cortex-a72 (the Pi 4's core, with the ARMv8 crypto extensions) rather
    // than "max", whose emulated pointer authentication makes TCG several times slower.
    machine: () => ["-machine", "virt", "-accel", "tcg", "-cpu", "cortex-a72"],
    // virt has one PL011: the test images' status line shares ttyAMA0 with the console.
    serialPorts: 1,
  },
} as const;

/**
 * KVM when it works, TCG otherwise. On these machines /dev/kvm exists but
 * guests die in OVMF ("KVM internal error"), so a short OVMF-only probe
 * decides, not the device node. SOVEREIGN_QEMU_ACCEL=kvm|tcg overrides.
 */
export function pickAccel(dir: string): "kvm" | "tcg" {
  const forced = process.env.SOVEREIGN_QEMU_ACCEL;
  if (forced === "kvm" || forced === "tcg") return forced;
  try {
    closeSync(openSync("/dev/kvm", "r+"));
  } catch {
    return "tcg";
  }
  const vars = join(dir, "probe-vars.fd");
  copyFileSync(OVMF_VARS, vars);
  const r = spawnSync("timeout", ["20", "qemu-system-x86_64", "-machine", "q35", "-accel", "kvm", "-m", "256", "-display", "none", "-serial", "stdio", "-no-reboot",
    "-drive", `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, "-drive", `if=pflash,format=raw,unit=1,file=${vars}`], { encoding: "utf8" });
  const out = `${r.stdout}${r.stderr}`;
  if (/KVM internal error|emulation failure|failed to initialize kvm|Could not access KVM/i.test(out)) return "tcg";
  // Still running at the timeout (status 124) with no error: KVM works.
  return r.status === 124 || /BdsDxe|UEFI/i.test(out) ? "kvm" : "tcg";
}

export interface Vm {
  proc: ChildProcess;
  serial0: string;
  serial1: string;
  port: number;
  sshPort: number | undefined;
  /** Host port forwarded to the node's HTTPS port 8443 (with `forwardHttps`). */
  httpsPort: number | undefined;
  startedAt: number;
  exited: Promise<number | null>;
  /** Types at serial 0 (needs `interactive`), e.g. a LUKS passphrase followed by "\r". */
  type(text: string): Promise<void>;
  /** Sends one command to qemu's monitor (e.g. drive_add, device_add) and returns its reply. */
  monitor(command: string): Promise<string>;
  /** Asks the guest to power off (ACPI) through the monitor, then waits for qemu to exit. */
  powerdown(timeoutMs: number): Promise<void>;
  /** qemu's run state as the monitor's `info status` gives it, e.g. "running" or "paused (watchdog)". */
  runState(): Promise<string>;
  /** The machine has a watchdog (BootOptions.watchdog): waitFor fails at once when it fires. */
  watchdog: boolean;
}

export interface BootOptions {
  /** The guest's architecture (default x86_64). */
  arch?: keyof typeof MACHINES;
  dir: string;
  disk: string;
  usbKey?: string;
  /** More disks (raw images) after the key stick, e.g. a stick labelled SOVUPDATE holding a bundle. */
  extraDrives?: readonly string[];
  /** An xHCI controller (id xhci), so a test can plug a USB stick in while the guest runs (vm.monitor). */
  usbHost?: boolean;
  accel: "kvm" | "tcg";
  tag: string;
  /** A software TPM 2.0 (swtpm) keeping its state here; the same dir is the same TPM across boots. */
  tpmDir?: string;
  /** Serial 0 as a socket as well as a log, so a test can type at the console (vm.type). */
  interactive?: boolean;
  /** Forward a host port to the guest's port 22 (dropbear in the initramfs, for ssh unlock): vm.sshPort. */
  forwardSsh?: boolean;
  /** Forward a host port to the node's HTTPS port 8443: vm.httpsPort. */
  forwardHttps?: boolean;
  /**
   * A hardware watchdog (an Intel 6300ESB, which Linux drives with i6300esb). Where a board would reset, qemu pauses
   * (vm.runState() says "paused (watchdog)"): a test can tell the watchdog's reset from any other, and any other wait
   * fails at once, naming it, where a reset would end qemu without a word (-no-reboot).
   */
  watchdog?: boolean;
  /**
   * PID 1's watchdog timeout for this boot instead of the image's 30 s: systemd.watchdog_sec= added to the kernel
   * command line through SMBIOS (systemd-boot's io.systemd.boot.kernel-cmdline-extra; x86 only, no Secure Boot).
   * qemu's watchdog counts host time, and a TCG guest niced beside a build gets a tenth of a core or less, so that
   * PID 1 can go 30 s without a turn on a host that no board is like (CI: a reset in a healthy boot, 2026-12-07).
   */
  watchdogSec?: number;
}

/** Starts swtpm for one boot; it exits when qemu closes the connection. */
async function startSwtpm(dir: string): Promise<{ socket: string; proc: ChildProcess }> {
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, "swtpm.sock");
  rmSync(socket, { force: true });
  const proc = spawn("swtpm", ["socket", "--tpm2", "--tpmstate", `dir=${dir}`, "--ctrl", `type=unixio,path=${socket}`, "--flags", "not-need-init", "--log", `file=${join(dir, "swtpm.log")},level=1`], {
    stdio: "ignore",
  });
  await waitFor("the swtpm socket", 10_000, () => (existsSync(socket) ? true : undefined));
  return { socket, proc };
}

export async function bootVm(opts: BootOptions): Promise<Vm> {
  const m = MACHINES[opts.arch ?? "x86_64"];
  const port = await freePort();
  const sshPort = opts.forwardSsh ? await freePort() : undefined;
  const httpsPort = opts.forwardHttps ? await freePort() : undefined;
  const tpm = opts.tpmDir ? await startSwtpm(opts.tpmDir) : undefined;
  const console0 = join(opts.dir, `console-${opts.tag}.sock`);
  const vars = join(opts.dir, `vars-${opts.tag}.fd`);
  if (!existsSync(vars)) copyFileSync(m.vars, vars);
  const serial0 = join(opts.dir, `serial0-${opts.tag}.log`);
  const serial1 = m.serialPorts > 1 ? join(opts.dir, `serial1-${opts.tag}.log`) : serial0;
  const monitor = join(opts.dir, `monitor-${opts.tag}.sock`);
  // A log left by an earlier run would answer the first probe before qemu truncates it
  // (a stale passphrase prompt made a test type into a console socket not yet made).
  for (const f of [serial0, serial1, console0, monitor]) rmSync(f, { force: true });
  const args = [
    "-n", "10", m.qemu, ...m.machine(opts.accel), "-smp", "2", "-m", "2048",
    "-display", "none", "-no-reboot",
    "-drive", `if=pflash,format=raw,unit=0,readonly=on,file=${m.code}`,
    "-drive", `if=pflash,format=raw,unit=1,file=${vars}`,
    "-drive", `if=virtio,format=raw,file=${opts.disk}`,
    ...(opts.usbKey ? ["-drive", `if=virtio,format=raw,file=${opts.usbKey}`] : []),
    ...(opts.extraDrives ?? []).flatMap((d) => ["-drive", `if=virtio,format=raw,file=${d}`]),
    ...(opts.usbHost ? ["-device", "qemu-xhci,id=xhci"] : []),
    "-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:8080${sshPort ? `,hostfwd=tcp:127.0.0.1:${sshPort}-:22` : ""}${httpsPort ? `,hostfwd=tcp:127.0.0.1:${httpsPort}-:8443` : ""}`, "-device", "virtio-net-pci,netdev=n0",
    ...(tpm ? ["-chardev", `socket,id=chrtpm,path=${tpm.socket}`, "-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-tis,tpmdev=tpm0"] : []),
    ...(opts.interactive
      ? ["-chardev", `socket,id=con0,path=${console0},server=on,wait=off,logfile=${serial0}`, "-serial", "chardev:con0"]
      : ["-serial", `file:${serial0}`]),
    ...(m.serialPorts > 1 ? ["-serial", `file:${serial1}`] : []),
    "-monitor", `unix:${monitor},server,nowait`,
    ...(opts.watchdog ? ["-device", "i6300esb", "-action", "watchdog=pause"] : []),
    ...(opts.watchdogSec ? ["-smbios", `type=11,value=io.systemd.boot.kernel-cmdline-extra=systemd.watchdog_sec=${opts.watchdogSec}`] : []),
  ];
  const proc = spawn("nice", args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  void exited.then(() => tpm?.proc.kill("SIGTERM"));
  const vm: Vm = {
    proc, serial0, serial1, port, sshPort, httpsPort, startedAt: Date.now(), exited, watchdog: opts.watchdog === true,
    async type(text) {
      if (!opts.interactive) throw new Error("boot with interactive: true to type at the console");
      await new Promise<void>((resolve, reject) => {
        const c = connect(console0, () => c.end(text, () => resolve()));
        c.on("error", reject);
      });
    },
    async monitor(command) {
      return await new Promise<string>((resolve, reject) => {
        let reply = "";
        const c = connect(monitor, () => {
          c.write(`${command}\n`);
          // The monitor answers on the same line discipline and keeps the socket open: give it a moment.
          setTimeout(() => c.end(), 1500);
        });
        c.on("data", (b: Buffer) => (reply += b.toString()));
        c.on("close", () => resolve(reply));
        c.on("error", reject);
      });
    },
    async runState() {
      // The monitor's socket appears a moment after qemu starts: until then there is no state to read.
      const reply = await vm.monitor("info status").catch((err: Error) => `unreachable: ${err.message}`);
      return /VM status: ([^\r\n]+)/.exec(reply)?.[1]?.trim() ?? reply.trim();
    },
    async powerdown(timeoutMs) {
      await new Promise<void>((resolve) => {
        const c = connect(monitor, () => c.end("system_powerdown\n"));
        // Drain the monitor's replies, or the socket never reaches "close".
        c.resume();
        c.on("close", () => resolve());
        c.on("error", () => resolve());
        void exited.then(() => resolve());
      });
      const t = setTimeout(() => proc.kill("SIGTERM"), timeoutMs);
      await exited;
      clearTimeout(t);
    },
  };
  void exited.then((code) => {
    if (code !== 0 && code !== null && stderr) process.stderr.write(`qemu (${opts.tag}) exited ${code}: ${stderr}\n`);
  });
  return vm;
}

export function readText(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

/** How often waitFor asks qemu whether the machine's watchdog fired (each ask takes the monitor 1.5 s). */
const WATCHDOG_CHECK_MS = 15_000;

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, vm?: Vm): Promise<T> {
  const end = Date.now() + timeoutMs;
  let exited = false;
  void vm?.exited.then(() => (exited = true));
  let nextWatchdogCheck = Date.now() + WATCHDOG_CHECK_MS;
  while (Date.now() < end) {
    const v = await probe();
    if (v !== undefined) return v;
    if (exited) throw new Error(`qemu exited while waiting for ${what}; serial tail:\n${readText(vm?.serial0 ?? "").slice(-3000)}`);
    // A frozen PID 1, or a vCPU stuck for minutes, never answers: fail now, not at the timeout (CI once waited 30 min
    // on one). An oops needs no such check: the panic that follows reboots, which ends qemu (-no-reboot).
    const frozen = vm && stuck(readText(vm.serial0));
    if (frozen) throw new Error(`${frozen} while waiting for ${what}; serial tail:\n${readText(vm.serial0).slice(-3000)}`);
    if (vm?.watchdog && Date.now() >= nextWatchdogCheck) {
      nextWatchdogCheck = Date.now() + WATCHDOG_CHECK_MS;
      if ((await vm.runState()) === "paused (watchdog)") {
        // A probe that waits for the watchdog itself gets its answer; any other wait ends here, not at its timeout.
        const late = await probe();
        if (late !== undefined) return late;
        throw new Error(`the machine's hardware watchdog fired while waiting for ${what}: nothing petted it for its timeout (PID 1 hung or got no CPU); serial tail:\n${readText(vm.serial0).slice(-3000)}`);
      }
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}; serial tail:\n${readText(vm?.serial0 ?? "").slice(-3000)}`);
}

export async function healthz(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3000) });
    return r.status === 200;
  } catch {
    return false;
  }
}

/** The one SOVSTATUS line the test images write to serial 1 (or the console, on a one-port machine) once the system settles. */
export function statusLine(vm: Vm): string | undefined {
  return /SOVSTATUS [^\r\n]*/.exec(readText(vm.serial1))?.[0];
}

/** Waits until the node in the guest answers /healthz with 200 through the forwarded port. */
export async function waitForHealthz(vm: Vm, what: string, timeoutMs: number): Promise<void> {
  await waitFor(what, timeoutMs, async () => ((await healthz(vm.port)) ? true : undefined), vm);
}

/** The guest kernel oopsed, then panicked (guestWedged). */
export function guestOopsed(vm: Vm): boolean {
  const serial = readText(vm.serial0);
  return /\bOops: /.test(serial) && /Kernel panic - not syncing/.test(serial);
}

/**
 * Why the guest can no longer get anywhere, when it can't: its kernel oopsed, then panicked (a kernel bug, which
 * nothing of ours produces: our initramfs gives a slot up by rebooting or by init exiting, never by an oops), or
 * PID 1 froze itself (systemd's "Freezing execution", after it crashed or could not start; nothing but a
 * watchdog gets such a machine going again). The ssh image's first boot did the second under TCG, in CI and here:
 * a vCPU stuck in modprobe for 237 s (soft lockup) while systemd ran its generators, which then failed, and PID 1
 * froze. That image alone has sshd, so there alone systemd-ssh-generator probed AF_VSOCK and loaded modules; with
 * the generator masked (image/steps/configure.ts) its boots have not wedged. Or a vCPU sat in one task for minutes
 * (WEDGED_LOCKUP_S), as the arm64 image's modprobe did in its initramfs.
 */
export function guestWedged(vm: Vm): string | undefined {
  return guestOopsed(vm) ? "the guest kernel oopsed and panicked" : stuck(readText(vm.serial0));
}

/** Why a guest whose serial log is `serial` will never answer, short of an oops (guestWedged): PID 1 froze, or a long lockup. */
function stuck(serial: string): string | undefined {
  return pid1Froze(serial) ?? longLockup(serial);
}

/**
 * A vCPU stuck this long in one task has never come back in our logs: the ssh image's modprobe at 237 s (then PID 1
 * froze), the arm64 image's modprobe in the initramfs at 1002 s and counting (a CI-like run, 2026-12-07, which then
 * waited out its 20 minutes). Starved guests report shorter ones and go on (22 s in an A/B boot).
 */
const WEDGED_LOCKUP_S = 300;

/** The longest soft lockup the guest kernel reported, when it is WEDGED_LOCKUP_S or more (guestWedged). */
function longLockup(serial: string): string | undefined {
  let worst = 0;
  let task = "";
  for (const m of serial.matchAll(/soft lockup - CPU#\d+ stuck for (\d+)s! \[([^\]]*)\]/g)) {
    if (Number(m[1]) > worst) [worst, task] = [Number(m[1]), m[2] ?? ""];
  }
  return worst >= WEDGED_LOCKUP_S ? `a vCPU stuck in ${task} for ${worst} s (soft lockup)` : undefined;
}

/** PID 1 froze itself (guestWedged): why, with the soft lockup that led there when the kernel reported one. */
function pid1Froze(serial: string): string | undefined {
  if (!/systemd\[1\]: Freezing execution/.test(serial)) return undefined;
  return /soft lockup - CPU#\d+ stuck/.test(serial) ? "PID 1 froze after the guest kernel reported a soft lockup" : "PID 1 froze";
}

/**
 * Boots and waits until `probe` answers. Under TCG with two vCPUs the guest has
 * wedged in ways no board shows: its kernel oopsed on an int3 while
 * patching its own code (CI saw it 2.8 s into a boot, before the passphrase
 * prompt), or a vCPU sat in modprobe until PID 1 gave up (guestWedged). Such a
 * boot is retried once, as someone at the device would power-cycle it, said so
 * on stderr, its serial log kept under its own tag (`boots` says how many were
 * made). Any other failure, or a second wedge, fails the test. The caller
 * powers the returned VM down.
 */
export async function bootUntil<T>(opts: BootOptions, what: string, timeoutMs: number, probe: (vm: Vm) => Promise<T | undefined> | T | undefined): Promise<{ vm: Vm; value: T; boots: number }> {
  for (let attempt = 1; ; attempt++) {
    const vm = await bootVm({ ...opts, tag: attempt === 1 ? opts.tag : `${opts.tag}-retry` });
    try {
      return { vm, value: await waitFor(what, timeoutMs, () => probe(vm), vm), boots: attempt };
    } catch (err) {
      const wedged = guestWedged(vm);
      await vm.powerdown(60_000);
      if (attempt > 1 || !wedged) throw err;
      process.stderr.write(`qemu (${opts.tag}): ${wedged} under ${opts.accel}; see ${vm.serial0}. Booting once more.\n`);
    }
  }
}

/** bootUntil /healthz answers 200. */
export async function bootToHealthz(opts: BootOptions, what: string, timeoutMs: number): Promise<Vm> {
  return (await bootUntil(opts, what, timeoutMs, async (vm) => ((await healthz(vm.port)) ? true : undefined))).vm;
}
