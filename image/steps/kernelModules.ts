import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { inChroot } from "../lib/chroot.js";
import { kernelVersions } from "../lib/kernelVersions.js";
import { modulesToRemove, parseModulesDep } from "../lib/slim.js";
import { defineStep, skip } from "./Step.js";

/**
 * Step 5b: drops the kernel module trees the board profile excludes
 * (`kernelModulesExclude`), and every module that needs one of them, then
 * re-runs depmod so udev never asks for a missing module. It runs before the
 * initramfs, which then carries fewer modules too.
 */
export const kernelModulesStep = defineStep({
  name: "kernel-modules",
  title: "Drop kernel modules the board cannot use",
  needs: ["packages"],
  async run(ctx) {
    const exclude = ctx.board.kernelModulesExclude ?? [];
    if (exclude.length === 0) return skip("the board profile excludes no kernel modules");
    const base = join(ctx.rootfs, "usr/lib/modules");
    const versions = kernelVersions(ctx.rootfs);
    if (versions.length === 0) return skip("no kernel modules in the rootfs");
    for (const v of versions) {
      const dir = join(base, v);
      const { excluded, dependents } = modulesToRemove(parseModulesDep(readFileSync(join(dir, "modules.dep"), "utf8")), exclude);
      for (const m of [...excluded, ...dependents]) rmSync(join(dir, m), { force: true });
      // Empty directories left behind are harmless to modprobe but clutter the tree.
      for (const d of exclude) rmSync(join(dir, "kernel", d), { recursive: true, force: true });
      await inChroot(ctx.rootfs, ["depmod", v], { logFile: ctx.logFile });
      ctx.progress(`${v}: removed ${excluded.length} modules under ${exclude.length} excluded trees`);
      if (dependents.length > 0) ctx.progress(`${v}: and ${dependents.length} that need them: ${dependents.map((m) => m.split("/").pop()?.replace(/\.ko(\.\w+)?$/, "")).join(", ")}`);
    }
    return undefined;
  },
});
