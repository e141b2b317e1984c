import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { BuildContext } from "../BuildContext.js";
import { withChroot, inChroot } from "../lib/chroot.js";
import { exec } from "../lib/exec.js";
import { LOCAL_BUILDS, planCudaRunner, type CudaRunnerInputs } from "../lib/cudaRunner.js";
import { defineStep, skip } from "./Step.js";

const NLC = "node_modules/node-llama-cpp";

/** The plan's inputs, read from the build's options and the repository's node-llama-cpp. */
export function cudaRunnerInputs(ctx: BuildContext): CudaRunnerInputs {
  const l4t = ctx.options.l4t;
  const repoNlc = join(ctx.options.repoRoot, NLC);
  const read = (p: string): Record<string, unknown> => (existsSync(p) ? (JSON.parse(readFileSync(p, "utf8")) as Record<string, unknown>) : {});
  return {
    board: ctx.board,
    l4t,
    bspDebs: l4t && !l4t.startsWith("deb ") && existsSync(l4t) ? readdirSync(l4t).filter((f) => f.endsWith(".deb")) : [],
    buildPackages: ctx.distro.vendorPackages("nvidia-l4t-cuda-build"),
    runtimePackages: ctx.distro.vendorPackages("nvidia-l4t-cuda-runtime"),
    nodeLlamaCpp: { version: String(read(join(repoNlc, "package.json")).version ?? "?"), llamaCppRelease: String(read(join(repoNlc, "llama/binariesGithubRelease.json")).release ?? "?") },
  };
}

/**
 * Step 3b (jetson-orin with --l4t): llama.cpp built with CUDA for the Orin, as
 * a node-llama-cpp local build in /opt/sovereign, which the runners load with
 * getLlama({ gpu: "cuda" }) where `sovereign hardware`'s probe finds it loads.
 * The toolkit is installed in a scratch copy of the rootfs, never the image;
 * the build is cached per plan key (an arm64 build under qemu-user takes hours:
 * fill the cache on an arm64 host). Skipped, with the reason, everywhere else.
 */
export const cudaRunnerStep = defineStep({
  name: "cuda-runner",
  title: "Build the CUDA llama.cpp runner (jetson-orin with --l4t)",
  needs: ["runtime", "packages"],
  async run(ctx) {
    const plan = planCudaRunner(cudaRunnerInputs(ctx));
    if ("skip" in plan) return skip(plan.skip);
    const cached = join(ctx.options.cache, "cuda-runner", plan.cacheKey);
    if (!existsSync(cached)) {
      ctx.progress(`building llama.cpp with CUDA (cache key ${plan.cacheKey}); under qemu-user this takes hours`);
      const scratch = join(ctx.work, "cuda-build-rootfs");
      rmSync(scratch, { recursive: true, force: true });
      try {
        await exec("cp", ["-a", "--reflink=auto", ctx.rootfs, scratch], { logFile: ctx.logFile });
        // The image leaves out node-llama-cpp's bundled llama.cpp source; the build takes it from the repository.
        cpSync(join(ctx.options.repoRoot, NLC, "llama/gitRelease.bundle"), join(scratch, "opt/sovereign", NLC, "llama/gitRelease.bundle"));
        await ctx.distro.install({ ...ctx, rootfs: scratch }, plan.buildPackages);
        await withChroot(scratch, () => inChroot(scratch, ["sh", "-c", `cd /opt/sovereign && exec ${plan.command.join(" ")}`], { logFile: ctx.logFile, env: plan.env }));
        const built = join(scratch, LOCAL_BUILDS);
        const folders = existsSync(built) ? readdirSync(built).filter((f) => f.includes("cuda")) : [];
        if (folders.length === 0) throw new Error(`node-llama-cpp's CUDA build left nothing in ${LOCAL_BUILDS} (see the build log)`);
        const tmp = `${cached}.partial`;
        rmSync(tmp, { recursive: true, force: true });
        mkdirSync(tmp, { recursive: true });
        for (const f of folders) cpSync(join(built, f), join(tmp, f), { recursive: true });
        renameSync(tmp, cached);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    } else ctx.progress(`CUDA runner from the cache (${plan.cacheKey})`);
    mkdirSync(join(ctx.rootfs, LOCAL_BUILDS), { recursive: true });
    cpSync(cached, join(ctx.rootfs, LOCAL_BUILDS), { recursive: true });
    // The CUDA libraries the runner links against (the driver came with the L4T packages).
    await ctx.distro.install(ctx, plan.runtimePackages);
    return undefined;
  },
});
