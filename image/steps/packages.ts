import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { defineStep } from "./Step.js";

/**
 * Step 3: packages beyond the bootstrap set. Node, avahi and the board's
 * kernel and firmware come in with the (cached) bootstrap layers; this step
 * gives the image its own package sources (with trixie-security and
 * trixie-updates, so the device updates from the same mirror), upgrades the
 * cached layers to today's security fixes, and adds what every appliance
 * needs on a real network (resolved, timesyncd, ca-certificates, iwd), what
 * the unlock method needs (dropbear-initramfs, TPM2 tools) and the opt-in
 * L4T layer. Never cached: security fixes are those of the build's day.
 */
export const packagesStep = defineStep({
  name: "packages",
  title: "Install unlock-method and vendor packages",
  needs: ["bootstrap"],
  async run(ctx) {
    const { distro } = ctx;
    const l4t = ctx.options.l4t;
    const l4tSource = l4t?.startsWith("deb ") ? l4t : undefined;
    distro.writeSources(ctx, l4tSource ? [l4tSource] : []);
    const pkgs = [...distro.appliancePackages(), ...distro.unlockPackages(ctx.unlock), ...(l4tSource ? distro.vendorPackages("nvidia-l4t") : [])];
    // A BSP directory: its package files go in with the rest, so that their dependencies resolve.
    const bsp = l4t && !l4tSource ? join(ctx.rootfs, "tmp/l4t") : undefined;
    if (l4t && bsp) {
      ctx.progress(`installing the L4T BSP packages from ${l4t}`);
      mkdirSync(bsp, { recursive: true });
      for (const d of readdirSync(l4t).filter((f) => f.endsWith(".deb"))) {
        copyFileSync(join(l4t, d), join(bsp, d));
        pkgs.push(`/tmp/l4t/${d}`);
      }
    }
    try {
      await distro.install(ctx, pkgs, { upgrade: true });
    } finally {
      if (bsp) rmSync(bsp, { recursive: true, force: true });
    }
    return undefined;
  },
});
