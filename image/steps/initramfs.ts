import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { initramfsFiles } from "../lib/bootConfig.js";
import { inChroot, withChroot } from "../lib/chroot.js";
import type { Step } from "./Step.js";

/**
 * Step 6: the initramfs with cryptsetup and the unlock method (passdev for
 * the key stick, dropbear for ssh). On the Pi, raspi-firmware's own hooks
 * then write kernel, initrd, DTBs, config.txt and cmdline.txt into
 * /boot/firmware, from which the firmware partition is made.
 */
export const initramfsStep: Step = {
  name: "initramfs",
  title: "Build the initramfs with cryptsetup",
  async run(ctx) {
    const r = ctx.rootfs;
    const keys = ctx.options.sshKeyFile ? readFileSync(ctx.options.sshKeyFile, "utf8") : undefined;
    for (const [p, text] of Object.entries(initramfsFiles(ctx.unlock, keys))) {
      mkdirSync(dirname(join(r, p)), { recursive: true });
      const prev = p === "etc/initramfs-tools/modules" && existsSync(join(r, p)) ? readFileSync(join(r, p), "utf8") : "";
      writeFileSync(join(r, p), prev + text);
      if (p.includes("authorized_keys")) chmodSync(join(r, p), 0o600);
    }
    await withChroot(r, async () => {
      ctx.progress("update-initramfs -u -k all");
      await inChroot(r, ["update-initramfs", "-u", "-k", "all"], { logFile: ctx.logFile });
      if (ctx.board.boot.kind === "raspberrypi") {
        const kernels = readdirSync(join(r, "boot")).filter((f) => f.startsWith("vmlinuz-"));
        for (const k of kernels) {
          const version = k.slice("vmlinuz-".length);
          ctx.progress(`raspi-firmware hooks for ${version}`);
          // The hook refuses to write into an unmounted /boot/firmware unless told that is intended.
          await inChroot(r, ["/etc/kernel/postinst.d/z50-raspi-firmware", version], { logFile: ctx.logFile, env: { RASPI_FIRMWARE_SKIP_MOUNTPOINT_CHECK: "1" } });
          await inChroot(r, ["/etc/initramfs/post-update.d/z50-raspi-firmware", version, `/boot/initrd.img-${version}`], {
            logFile: ctx.logFile,
            env: { RASPI_FIRMWARE_SKIP_MOUNTPOINT_CHECK: "1" },
          });
        }
      }
    });
    return undefined;
  },
};
