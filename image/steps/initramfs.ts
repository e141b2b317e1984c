import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { initramfsFiles, initramfsGenerator } from "../lib/bootConfig.js";
import { inChroot, withChroot } from "../lib/chroot.js";
import { kernelVersions } from "../lib/kernelVersions.js";
import { initrdSlimHook } from "../lib/slim.js";
import { defineStep } from "./Step.js";

/**
 * Step 6: the initramfs with cryptsetup and the unlock method (passdev for
 * the key stick, dropbear for ssh; dracut with systemd-cryptsetup for tpm2). On the Pi, raspi-firmware's own hooks
 * then write kernel, initrd, DTBs, config.txt and cmdline.txt into
 * /boot/firmware, from which the firmware partition is made.
 */
export const initramfsStep = defineStep({
  name: "initramfs",
  title: "Build the initramfs with cryptsetup",
  // configure wrote the crypttab it unlocks with; kernel-modules removed what it must not carry.
  needs: ["configure", "kernel-modules"],
  async run(ctx) {
    const r = ctx.rootfs;
    const keys = ctx.options.sshKeyFile ? readFileSync(ctx.options.sshKeyFile, "utf8") : undefined;
    for (const [p, text] of Object.entries(initramfsFiles(ctx.unlock, keys, ctx.board.luks.cipher))) {
      mkdirSync(dirname(join(r, p)), { recursive: true });
      const prev = p === "etc/initramfs-tools/modules" && existsSync(join(r, p)) ? readFileSync(join(r, p), "utf8") : "";
      writeFileSync(join(r, p), prev + text);
      if (p.includes("authorized_keys")) chmodSync(join(r, p), 0o600);
    }
    if (initramfsGenerator(ctx.unlock) === "dracut") {
      await withChroot(r, async () => {
        for (const v of kernelVersions(r)) {
          ctx.progress(`dracut ${v}`);
          await inChroot(r, ["dracut", "--force", `/boot/initrd.img-${v}`, v], { logFile: ctx.logFile });
        }
      });
      return undefined;
    }
    mkdirSync(join(r, "etc/initramfs-tools/hooks"), { recursive: true });
    writeFileSync(join(r, "etc/initramfs-tools/hooks/sovereign-slim"), initrdSlimHook(ctx.unlock), { mode: 0o755 });
    chmodSync(join(r, "etc/initramfs-tools/hooks/sovereign-slim"), 0o755);
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
    return undefined;
  },
});
