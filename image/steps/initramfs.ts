import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { BuildContext } from "../BuildContext.js";
import { abBootOf, dataMountScript, dracutDataModule, verityInitramfsHook, verityOpenScript } from "../lib/abLayout.js";
import { initramfsFiles, initramfsGenerator, USB_KEY_KEYSCRIPT } from "../lib/bootConfig.js";
import { inChroot, withChroot } from "../lib/chroot.js";
import { listInitrd, missingInitrdModules, moduleName, requiredInitrdModules } from "../lib/initrdModules.js";
import { kernelVersions } from "../lib/kernelVersions.js";
import { initrdSlimHook } from "../lib/slim.js";
import { CONFIG_DIR } from "../lib/units.js";
import { overlayDir } from "./configure.js";
import { defineStep } from "./Step.js";

/** The kernel's built-in modules (modules.builtin), by name: forcing them into an initrd is not needed and dracut may refuse it. */
function builtinModules(root: string, version: string): Set<string> {
  const f = join(root, "usr/lib/modules", version, "modules.builtin");
  return new Set(existsSync(f) ? readFileSync(f, "utf8").split("\n").filter(Boolean).map(moduleName) : []);
}

/**
 * The build fails here, not at a user's boot, when the initrd lacks a
 * module the board needs to unlock (board profile `initramfsModules`):
 * read back from the built initrd, with the kernel's built-in modules
 * counted as present.
 */
function checkInitrd(ctx: BuildContext, version: string, required: readonly string[]): number {
  const listing = listInitrd(readFileSync(join(ctx.rootfs, "boot", `initrd.img-${version}`)));
  const missing = missingInitrdModules(listing, required);
  if (missing.length)
    throw new SovereignError(
      "IMAGE_COMMAND_FAILED",
      `the initramfs for kernel ${version} lacks modules ${ctx.board.id} needs to unlock: ${missing.join(", ")} (neither in the initrd nor built into the kernel; see initramfsModules in image/boards/ and kernelModulesExclude)`,
    );
  return listing.files.filter((f) => /\.ko(\.(xz|zst|gz))?$/.test(f)).length;
}

/**
 * Step 6: the initramfs with cryptsetup and the unlock method (our usb-key
 * keyscript around passdev, dropbear for ssh; dracut with systemd-cryptsetup
 * for tpm2), and the board's boot-critical drivers. On the Pi,
 * raspi-firmware's own hooks then write kernel, initrd, DTBs, config.txt and
 * cmdline.txt into /boot/firmware, from which the firmware partition is made.
 * Also leaves the recovery key in the (still unencrypted) root for first
 * boot, which must name it to keep its keyslot through re-encryption.
 */
export const initramfsStep = defineStep({
  name: "initramfs",
  title: "Build the initramfs with cryptsetup",
  // configure wrote the crypttab it unlocks with; kernel-modules removed what it must not carry.
  needs: ["keys", "configure", "kernel-modules"],
  async run(ctx, { keys }) {
    const r = ctx.rootfs;
    const sshKeys = ctx.options.sshKeyFile ? readFileSync(ctx.options.sshKeyFile, "utf8") : undefined;
    const versions = kernelVersions(r);
    const required = requiredInitrdModules(ctx.board, ctx.unlock, ctx.options.layout);
    const builtin = versions.length ? builtinModules(r, versions[0]!) : new Set<string>();
    const forced = required.filter((m) => !builtin.has(moduleName(m)));
    for (const [p, text] of Object.entries(initramfsFiles(ctx.unlock, sshKeys, ctx.board.luks.cipher, forced, ctx.options.layout))) {
      mkdirSync(dirname(join(r, p)), { recursive: true });
      const prev = p === "etc/initramfs-tools/modules" && existsSync(join(r, p)) ? readFileSync(join(r, p), "utf8") : "";
      writeFileSync(join(r, p), prev + text);
      if (p.includes("authorized_keys")) chmodSync(join(r, p), 0o600);
    }
    // First boot re-encrypts naming only the build key's keyslot (cryptsetup drops the others), then adds this one back.
    const rk = join(r, CONFIG_DIR.slice(1), "recovery.key");
    mkdirSync(dirname(rk), { recursive: true });
    rmSync(rk, { force: true });
    writeFileSync(rk, keys.recoveryKey, { mode: 0o600 });
    chmodSync(rk, 0o600);
    if (initramfsGenerator(ctx.unlock) === "dracut") {
      if (ctx.options.layout === "ab") {
        for (const [p, f] of Object.entries(dracutDataModule(abBootOf(ctx.board)))) {
          mkdirSync(dirname(join(r, p)), { recursive: true });
          writeFileSync(join(r, p), f.text, { mode: f.mode });
          chmodSync(join(r, p), f.mode);
        }
      }
      await withChroot(r, async () => {
        for (const v of versions) {
          ctx.progress(`dracut ${v}`);
          await inChroot(r, ["dracut", "--force", `/boot/initrd.img-${v}`, v], { logFile: ctx.logFile });
        }
      });
      for (const v of versions) ctx.progress(`initrd ${v}: ${checkInitrd(ctx, v, required)} modules, the board's ${required.length} required present`);
      return undefined;
    }
    const hooks = join(r, "etc/initramfs-tools/hooks");
    mkdirSync(hooks, { recursive: true });
    writeFileSync(join(hooks, "sovereign-slim"), initrdSlimHook(ctx.unlock), { mode: 0o755 });
    chmodSync(join(hooks, "sovereign-slim"), 0o755);
    if (ctx.options.layout === "ab") {
      // The slot opened through dm-verity (local-top, before root is mounted); then the data partition, mounted
      // and bound over the slot's paths before PID 1 starts (local-bottom).
      const scripts = join(r, "etc/initramfs-tools/scripts");
      for (const [p, text] of [["local-top/sovereign-verity", verityOpenScript(abBootOf(ctx.board))], ["local-bottom/sovereign-data", dataMountScript()], ["../hooks/sovereign-verity", verityInitramfsHook()]] as const) {
        mkdirSync(dirname(join(scripts, p)), { recursive: true });
        writeFileSync(join(scripts, p), text, { mode: 0o755 });
        chmodSync(join(scripts, p), 0o755);
      }
    }
    if (ctx.unlock === "usb-key") {
      const ks = join(r, USB_KEY_KEYSCRIPT.slice(1));
      mkdirSync(dirname(ks), { recursive: true });
      copyFileSync(join(overlayDir(), "sovereign-usbkey-keyscript"), ks);
      chmodSync(ks, 0o755);
      copyFileSync(join(overlayDir(), "sovereign-usbkey-hook"), join(hooks, "sovereign-usbkey"));
      chmodSync(join(hooks, "sovereign-usbkey"), 0o755);
    }
    await withChroot(r, async () => {
      if (ctx.unlock === "ssh") {
        // configure removed the package's host keys (identity is made on the device), but the first
        // boot is unlocked over ssh too: give it keys unique to this build, which first boot replaces.
        const dir = "/etc/dropbear/initramfs";
        for (const t of ["ed25519", "ecdsa"]) {
          for (const f of [`dropbear_${t}_host_key`, `dropbear_${t}_host_key.pub`]) rmSync(join(r, dir, f), { force: true });
          await inChroot(r, ["dropbearkey", "-t", t, "-f", `${dir}/dropbear_${t}_host_key`], { logFile: ctx.logFile });
        }
        writeFileSync(join(r, dir, ".build-host-keys"), "first boot replaces these host keys with the device's own\n");
      }
      ctx.progress("update-initramfs -c -k all");
      await inChroot(r, ["update-initramfs", "-c", "-k", "all"], { logFile: ctx.logFile });
      // On the Pi, update-initramfs runs raspi-firmware's post-update hook, which rewrites
      // /boot/firmware (kernel, initrd, DTBs, config.txt, cmdline.txt) from /etc/default/raspi-*.
    });
    for (const v of versions) ctx.progress(`initrd ${v}: ${checkInitrd(ctx, v, required)} modules, the board's ${required.length} required present`);
    return undefined;
  },
});
