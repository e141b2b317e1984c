import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { aptCacheDir, aptInstall, clearAptLists, NO_INITRD, writeAptSources } from "../lib/aptInChroot.js";
import { unlockPackages } from "../lib/bootConfig.js";
import { inChroot, withChroot } from "../lib/chroot.js";
import type { Step } from "./Step.js";

/**
 * Step 3: Debian packages beyond the bootstrap set. nodejs, avahi and the
 * board's kernel and firmware come in with the (cached) bootstrap layers; this step
 * adds what the unlock method needs (dropbear-initramfs, TPM2 tools) and the
 * opt-in L4T layer, and always leaves the apt lists out of the image.
 */
export const packagesStep: Step = {
  name: "packages",
  title: "Install unlock-method and vendor packages",
  async run(ctx) {
    writeAptSources(ctx);
    const extra = unlockPackages(ctx.unlock);
    const l4t = ctx.options.l4t;
    if (extra.length === 0 && !l4t) return "nothing beyond the bootstrap set for this board and unlock method";
    if (l4t?.startsWith("deb ")) writeFileSync(join(ctx.rootfs, "etc/apt/sources.list.d/nvidia-l4t.list"), `${l4t}\n`);
    await withChroot(ctx.rootfs, async () => {
      await aptInstall(ctx, [...extra, ...(l4t?.startsWith("deb ") ? ["nvidia-l4t-core", "nvidia-l4t-cuda"] : [])]);
      if (l4t && !l4t.startsWith("deb ")) {
        ctx.progress(`installing the L4T BSP debs from ${l4t}`);
        const debs = readdirSync(l4t).filter((f) => f.endsWith(".deb"));
        // Ship the BSP's debs in and install them with apt so dependencies resolve.
        mkdirSync(join(ctx.rootfs, "tmp/l4t"), { recursive: true });
        for (const d of debs) copyFileSync(join(l4t, d), join(ctx.rootfs, "tmp/l4t", d));
        await inChroot(ctx.rootfs, ["sh", "-c", "apt-get install -y -q /tmp/l4t/*.deb"], { logFile: ctx.logFile, env: NO_INITRD });
        rmSync(join(ctx.rootfs, "tmp/l4t"), { recursive: true, force: true });
      }
    }, { aptCache: aptCacheDir(ctx) });
    clearAptLists(ctx.rootfs);
    return undefined;
  },
};
