import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { abBootOf, DATA_MOUNT, NODE_ETC_LINKS, NODE_UNLOCK_CPIO, NODE_UNLOCK_HOME, NODE_UNLOCK_KEY_DIR, REBOOT_SCRIPT, rebootRequestUnits, slotUdevRule, slotUpdateSettings, sshdHostKeysConf, SSH_HOST_KEY_DIR, STATE_PATHS, trialGuardService, VERITY_WATCH_SCRIPT, verityWatchScript, verityWatchService } from "../lib/abLayout.js";
import { usbUpdateRule, usbUpdateService } from "../lib/bundleUsbUnits.js";
import { crypttab, fstab, type BootIds, initramfsGenerator, raspiFirmwareDefaults } from "../lib/bootConfig.js";
import { exec } from "../lib/exec.js";
import { avahiService, CONFIG_DIR, DATA_DIR, firstbootConfig, firstbootService, hostnameFor, iwdMainConfig, serviceEnvironment, iwdUdevRule, networkdConfig, resolvedConfig, watchdogConfig, RESOLV_CONF_LINK, SERVICE_USER, sovereignService } from "../lib/units.js";
import { statusService } from "../lib/statusUnit.js";
import { imageConfigJson, trustedUpdateKey } from "../lib/bundleKeys.js";
import { consoleStatusService, networkImportService, recoveryCopyService } from "../lib/consoleUnits.js";
import { inChroot } from "../lib/chroot.js";
import { orderingCycles, parseExposure } from "../lib/securityScore.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { defineStep } from "./Step.js";

/** Finds image/overlay/ from src (image/steps) or from dist (dist/image/steps → repo/image/overlay). */
export function overlayDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const cand = join(dir, "overlay");
    if (existsSync(join(cand, "sovereign-firstboot.sh"))) return cand;
    const cand2 = join(dir, "image/overlay");
    if (existsSync(join(cand2, "sovereign-firstboot.sh"))) return cand2;
    dir = dirname(dir);
  }
  throw new Error("image/overlay/sovereign-firstboot.sh not found");
}

function put(root: string, path: string, text: string | Buffer, mode = 0o644): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  rmSync(p, { force: true });
  writeFileSync(p, text, { mode });
  chmodSync(p, mode);
}

function idsOf(root: string, user: string): { uid: number; gid: number } {
  const line = readFileSync(join(root, "etc/passwd"), "utf8").split("\n").find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`user ${user} missing in the rootfs`);
  const f = line.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/**
 * Step 4: the systemd units, the service user, the first-boot script and the
 * files that name the LUKS volume (crypttab, fstab). The LUKS and filesystem
 * UUIDs are chosen here, before anything is encrypted, so the initramfs can
 * be built against them. After the packages step, whose host keys it removes.
 */
const SSH_GENERATOR = "/usr/lib/systemd/system-generators/systemd-ssh-generator";
/** A link to /dev/null of a generator's name in /etc masks it (systemd.generator(7)). */
const SSH_GENERATOR_MASK = "/etc/systemd/system-generators/systemd-ssh-generator";

export const configureStep = defineStep({
  name: "configure",
  title: "Add the systemd units, user and boot configuration",
  needs: ["keys", "packages"],
  async run(ctx, { keys }) {
    const r = ctx.rootfs;
    const vol = randomBytes(4).toString("hex").toUpperCase();
    const ids: BootIds = { luksUuid: randomUUID(), rootFsUuid: randomUUID(), bootVolumeId: `${vol.slice(0, 4)}-${vol.slice(4)}` };
    const host = hostnameFor(ctx.board, ctx.options.hostname);

    put(r, "etc/hostname", `${host}\n`);
    put(r, "etc/hosts", `127.0.0.1\tlocalhost\n127.0.1.1\t${host}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
    const ab = ctx.options.layout === "ab";
    put(r, "etc/crypttab", crypttab(ctx.unlock, ids, ctx.options.layout));
    mkdirSync(join(r, ctx.board.boot.kind === "uefi" ? "boot/efi" : "boot/firmware"), { recursive: true });
    if (ctx.board.boot.kind === "raspberrypi") for (const [p, t] of Object.entries(raspiFirmwareDefaults(ctx.board, ctx.unlock, ctx.options.layout))) put(r, p, t);
    put(r, "etc/systemd/network/80-sovereign.network", networkdConfig());
    put(r, "etc/avahi/services/sovereign.service", avahiService());
    put(r, "etc/systemd/resolved.conf.d/50-sovereign.conf", resolvedConfig());
    put(r, "etc/systemd/system.conf.d/50-sovereign-watchdog.conf", watchdogConfig());
    put(r, "etc/iwd/main.conf", iwdMainConfig());
    put(r, "etc/udev/rules.d/80-sovereign-iwd.rules", iwdUdevRule());
    // iwd's package loads pkcs8_key_parser at every boot, for EAP-TLS keys we never configure (Wi-Fi here is
    // PSK or open); loading it hung systemd-modules-load for minutes in the qemu boot (soft lockup, TCG).
    mkdirSync(join(r, "etc/modules-load.d"), { recursive: true });
    rmSync(join(r, "etc/modules-load.d/pkcs8.conf"), { force: true });
    symlinkSync("/dev/null", join(r, "etc/modules-load.d/pkcs8.conf"));
    // Never the build host's resolver (the bootstrap and the chroot copy it in): resolved's stub, from DHCP.
    rmSync(join(r, "etc/resolv.conf"), { force: true });
    symlinkSync(RESOLV_CONF_LINK, join(r, "etc/resolv.conf"));
    // A board without an RTC starts at 1970 or at its last shutdown: PID 1 moves the clock forward to
    // clock-epoch's mtime, timesyncd to its clock file's (which it updates at every sync and shutdown), so
    // the first boot's clock starts at the build time, never before it.
    const built = new Date();
    put(r, "usr/lib/clock-epoch", "");
    put(r, "var/lib/systemd/timesync/clock", "");
    for (const f of ["usr/lib/clock-epoch", "var/lib/systemd/timesync/clock"]) utimesSync(join(r, f), built, built);

    // Identity is made on the device: no machine-id, no host keys in the image.
    put(r, "etc/machine-id", "");
    rmSync(join(r, "var/lib/dbus/machine-id"), { force: true });
    for (const d of ["etc/ssh", "etc/dropbear/initramfs", "etc/dropbear"]) {
      if (!existsSync(join(r, d))) continue;
      for (const f of readdirSync(join(r, d))) if (/host_key/.test(f)) rmSync(join(r, d, f), { force: true });
    }

    if (!existsSync(join(r, "etc/passwd")) || !readFileSync(join(r, "etc/passwd"), "utf8").includes(`\n${SERVICE_USER}:`))
      await exec("useradd", ["--root", r, "--system", "--user-group", "--home-dir", DATA_DIR, "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER], { logFile: ctx.logFile });
    const { uid, gid } = idsOf(r, SERVICE_USER);
    put(r, "etc/fstab", fstab(ctx.board, ids, ab ? { serviceGid: gid } : undefined));
    mkdirSync(join(r, DATA_DIR.slice(1), "models"), { recursive: true });
    chownSync(join(r, DATA_DIR.slice(1)), uid, gid);
    chownSync(join(r, DATA_DIR.slice(1), "models"), uid, gid);
    chmodSync(join(r, DATA_DIR.slice(1)), 0o750);

    // The update keys the node accepts (services/update): --update-key, else the build key that signs the manifest.
    put(r, `${CONFIG_DIR.slice(1)}/config.json`, imageConfigJson([trustedUpdateKey(ctx.options.cache, ctx.options.updateKeyFile)], ab ? { ...slotUpdateSettings(ctx.board), ...(ctx.options.healthGateSeconds ? { healthGateSeconds: ctx.options.healthGateSeconds } : {}) } : {}));
    put(r, `${CONFIG_DIR.slice(1)}/firstboot.conf`, firstbootConfig(ctx.board, ctx.unlock, { keepRecoveryPassphrase: Boolean(ctx.options.passphraseFile), layout: ctx.options.layout ?? "single", ...(ab ? { sshHostKeyDir: SSH_HOST_KEY_DIR } : {}), ...(ab && ctx.unlock === "ssh" ? { unlockArchive: { path: `/boot/efi${NODE_UNLOCK_CPIO}`, home: NODE_UNLOCK_HOME, keyDir: NODE_UNLOCK_KEY_DIR } } : {}) }));
    // The key to the root filesystem, inside it: first boot re-encrypts with it, then destroys it.
    put(r, `${CONFIG_DIR.slice(1)}/build.key`, keys.buildKey, 0o600);
    if (ctx.options.setupCodeFile) put(r, `${CONFIG_DIR.slice(1)}/setup-code`, readFileSync(ctx.options.setupCodeFile, "utf8").trim() + "\n", 0o600);

    put(r, "etc/systemd/system/sovereign.service", sovereignService(ctx.board, ab));
    put(r, "etc/systemd/system/sovereign-firstboot.service", firstbootService());
    copyFileSync(join(overlayDir(), "sovereign-firstboot.sh"), join(r, "usr/local/sbin/sovereign-firstboot"));
    chmodSync(join(r, "usr/local/sbin/sovereign-firstboot"), 0o755);
    if (ctx.board.boot.kind === "uefi") {
      // The firmware boots the ESP's copy of kernel and initrd: keep it current after update-initramfs,
      // or (dracut has no post-update hooks) after the kernel's own hook has run dracut.
      const hookDir = initramfsGenerator(ctx.unlock) === "dracut" ? "etc/kernel/postinst.d" : "etc/initramfs/post-update.d";
      mkdirSync(join(r, hookDir), { recursive: true });
      copyFileSync(join(overlayDir(), "zz-sovereign-esp"), join(r, hookDir, "zz-sovereign-esp"));
      chmodSync(join(r, hookDir, "zz-sovereign-esp"), 0o755);
    }
    rmSync(join(r, "usr/local/bin/sovereign"), { force: true });
    symlinkSync("/opt/sovereign/bin/sovereign.js", join(r, "usr/local/bin/sovereign"));
    put(r, "etc/systemd/system/sovereign-console.service", consoleStatusService(ctx.board));
    put(r, "etc/systemd/system/sovereign-recovery.service", recoveryCopyService(ctx.board));
    put(r, "etc/systemd/system/sovereign-network.service", networkImportService(ctx.board));
    const units = ["sovereign.service", "sovereign-firstboot.service", "sovereign-console.service", "sovereign-recovery.service", "sovereign-network.service",
      "systemd-networkd.service", "systemd-resolved.service", "systemd-timesyncd.service", "avahi-daemon.service"];
    if (ab) {
      // The data partition's mount point and the slot's side of the A/B layout (image/lib/abLayout.ts).
      mkdirSync(join(r, DATA_MOUNT.slice(1)), { recursive: true });
      for (const p of STATE_PATHS) if (p.kind === "dir") mkdirSync(join(r, p.path.slice(1)), { recursive: true });
      for (const [link, target] of Object.entries(NODE_ETC_LINKS)) {
        mkdirSync(dirname(join(r, link.slice(1))), { recursive: true });
        rmSync(join(r, link.slice(1)), { force: true });
        symlinkSync(target, join(r, link.slice(1)));
      }
      // sshd (ssh unlock images) reads the node's host keys from the data partition; first boot makes them there.
      if (existsSync(join(r, "etc/ssh/sshd_config"))) put(r, "etc/ssh/sshd_config.d/10-sovereign-host-keys.conf", sshdHostKeysConf());
      if (ctx.unlock === "ssh") {
        copyFileSync(join(overlayDir(), "sovereign-unlock-archive"), join(r, "usr/local/sbin/sovereign-unlock-archive"));
        chmodSync(join(r, "usr/local/sbin/sovereign-unlock-archive"), 0o755);
      }
      put(r, "etc/udev/rules.d/80-sovereign-slots.rules", slotUdevRule(ctx.board));
      const reboot = rebootRequestUnits(ctx.board);
      put(r, "etc/systemd/system/sovereign-reboot.path", reboot.path);
      put(r, "etc/systemd/system/sovereign-reboot.service", reboot.service);
      put(r, REBOOT_SCRIPT.slice(1), reboot.script, 0o755);
      put(r, "etc/systemd/system/sovereign-trial-guard.service", trialGuardService(serviceEnvironment(ctx.board)));
      put(r, VERITY_WATCH_SCRIPT.slice(1), verityWatchScript(abBootOf(ctx.board)), 0o755);
      put(r, "etc/systemd/system/sovereign-verity-watch.service", verityWatchService());
      put(r, "etc/udev/rules.d/80-sovereign-usb-update.rules", usbUpdateRule());
      put(r, "etc/systemd/system/sovereign-usb-update.service", usbUpdateService(ctx.board));
      units.push("sovereign-reboot.path", "sovereign-usb-update.service", "sovereign-verity-watch.service");
    }
    if (ctx.options.statusTty) {
      const st = statusService(ctx.options.statusTty);
      put(r, "etc/systemd/system/sovereign-status.service", st.unit);
      put(r, "usr/local/sbin/sovereign-status", st.script, 0o755);
      units.push("sovereign-status.service");
    }
    await exec("systemctl", ["--root", r, "enable", ...units], { logFile: ctx.logFile });
    // Started by the udev rule when a radio appears (iwd's package enables it for every boot).
    await exec("systemctl", ["--root", r, "disable", "iwd.service"], { logFile: ctx.logFile });
    // systemd-ssh-generator (systemd >= 256, where sshd is installed) binds sshd to AF_VSOCK in a VM and to a local
    // AF_UNIX socket: ways in that the image never configured, and its AF_VSOCK probe loads modules at every boot.
    if (existsSync(join(r, SSH_GENERATOR.slice(1)))) {
      const mask = join(r, SSH_GENERATOR_MASK.slice(1));
      mkdirSync(dirname(mask), { recursive: true });
      rmSync(mask, { force: true });
      symlinkSync("/dev/null", mask);
    }
    // No shell logins on the appliance: a serial getty would only swallow the console.
    const tty = ctx.board.console.split(",")[0] ?? "ttyS0";
    await exec("systemctl", ["--root", r, "mask", `serial-getty@${tty}.service`], { logFile: ctx.logFile });
    // A/B: /etc/machine-id is a bind mount of the data partition's copy, made by the initramfs (abLayout.ts),
    // so it is committed already; the commit unit, which runs for any mount point there, only fails on it.
    if (ab) await exec("systemctl", ["--root", r, "mask", "systemd-machine-id-commit.service"], { logFile: ctx.logFile });
    // A unit in an ordering cycle is dropped at boot without failing anything: refuse to ship one.
    const verify = await inChroot(r, ["sh", "-c", "systemd-analyze verify --man=no default.target 2>&1; true"], { logFile: ctx.logFile });
    const dropped = orderingCycles(verify);
    if (dropped.length > 0) throw new SovereignError("IMAGE_COMMAND_FAILED", `ordering cycle at boot: systemd would drop ${dropped.join(", ")} (systemd-analyze verify default.target; the build log has the cycle)`);
    // The service's sandbox as systemd itself scores it, with the image's own systemd (offline, no boot).
    const exposure = parseExposure(await inChroot(r, ["systemd-analyze", "security", "--offline=yes", "--no-pager", "sovereign.service"], { logFile: ctx.logFile }));
    ctx.progress(`systemd-analyze security sovereign.service: exposure ${exposure ?? "unknown"}`);
    return { ids, hostname: host, exposure };
  },
});
