import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crypttab, fstab, type BootIds, initramfsGenerator, raspiFirmwareDefaults } from "../lib/bootConfig.js";
import { exec } from "../lib/exec.js";
import { avahiService, CONFIG_DIR, DATA_DIR, firstbootConfig, firstbootService, hostnameFor, networkdConfig, SERVICE_USER, sovereignService } from "../lib/units.js";
import { statusService } from "../lib/statusUnit.js";
import { imageConfigJson, trustedUpdateKey } from "../lib/bundleKeys.js";
import { consoleStatusService, recoveryCopyService } from "../lib/consoleUnits.js";
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
    put(r, "etc/crypttab", crypttab(ctx.unlock, ids));
    put(r, "etc/fstab", fstab(ctx.board, ids));
    mkdirSync(join(r, ctx.board.boot.kind === "uefi" ? "boot/efi" : "boot/firmware"), { recursive: true });
    if (ctx.board.boot.kind === "raspberrypi") for (const [p, t] of Object.entries(raspiFirmwareDefaults(ctx.board, ctx.unlock))) put(r, p, t);
    put(r, "etc/systemd/network/80-sovereign.network", networkdConfig());
    put(r, "etc/avahi/services/sovereign.service", avahiService());

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
    mkdirSync(join(r, DATA_DIR.slice(1), "models"), { recursive: true });
    chownSync(join(r, DATA_DIR.slice(1)), uid, gid);
    chownSync(join(r, DATA_DIR.slice(1), "models"), uid, gid);
    chmodSync(join(r, DATA_DIR.slice(1)), 0o750);

    // The update keys the node accepts (services/update): --update-key, else the build key that signs the manifest.
    put(r, `${CONFIG_DIR.slice(1)}/config.json`, imageConfigJson([trustedUpdateKey(ctx.options.cache, ctx.options.updateKeyFile)]));
    put(r, `${CONFIG_DIR.slice(1)}/firstboot.conf`, firstbootConfig(ctx.board, ctx.unlock, { keepRecoveryPassphrase: Boolean(ctx.options.passphraseFile) }));
    // The key to the root filesystem, inside it: first boot re-encrypts with it, then destroys it.
    put(r, `${CONFIG_DIR.slice(1)}/build.key`, keys.buildKey, 0o600);
    if (ctx.options.setupCodeFile) put(r, `${CONFIG_DIR.slice(1)}/setup-code`, readFileSync(ctx.options.setupCodeFile, "utf8").trim() + "\n", 0o600);

    put(r, "etc/systemd/system/sovereign.service", sovereignService(ctx.board));
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
    const units = ["sovereign.service", "sovereign-firstboot.service", "sovereign-console.service", "sovereign-recovery.service", "systemd-networkd.service", "avahi-daemon.service"];
    if (ctx.options.statusTty) {
      const st = statusService(ctx.options.statusTty);
      put(r, "etc/systemd/system/sovereign-status.service", st.unit);
      put(r, "usr/local/sbin/sovereign-status", st.script, 0o755);
      units.push("sovereign-status.service");
    }
    await exec("systemctl", ["--root", r, "enable", ...units], { logFile: ctx.logFile });
    // No shell logins on the appliance: a serial getty would only swallow the console.
    const tty = ctx.board.console.split(",")[0] ?? "ttyS0";
    await exec("systemctl", ["--root", r, "mask", `serial-getty@${tty}.service`], { logFile: ctx.logFile });
    return { ids, hostname: host };
  },
});
