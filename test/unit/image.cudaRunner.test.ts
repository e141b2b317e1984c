import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { BuildOptions } from "../../image/BuildContext.js";
import { createContext, pipeline } from "../../image/pipeline.js";
import { serviceEnvironment } from "../../image/lib/units.js";
import { CMAKE_OPTION_ENV, planCudaRunner } from "../../image/lib/cudaRunner.js";
import { cudaRunnerInputs, cudaRunnerStep } from "../../image/steps/cudaRunner.js";
import { preflightStep } from "../../image/steps/preflight.js";
import { Skipped } from "../../image/steps/Step.js";

/*
 * Structural only: a CUDA build needs NVIDIA's L4T packages and an Orin (or
 * hours of qemu-user), neither of which these machines have. What is checked
 * is that the jetson-orin build is well formed and says what it will do.
 */
const tmp = mkdtempSync(join(tmpdir(), "sov-cuda-runner-"));
const repoRoot = join(import.meta.dirname, "..", "..");
const opts = (o: Partial<BuildOptions> = {}): BuildOptions => ({
  board: "jetson-orin", out: join(tmp, "out"), models: [], mirror: "http://deb.debian.org/debian", cache: join(tmp, "cache"), compress: "zstd", repoRoot, dryRun: true, ...o,
});
const JETPACK = "deb https://repo.download.nvidia.com/jetson/common r36.4 main";

describe("the jetson-orin CUDA runner", () => {
  it("is a step of the build, after the runtime and the L4T packages it builds against", () => {
    const names = pipeline.map((s) => s.name);
    expect(names).toContain("cuda-runner");
    expect(cudaRunnerStep.needs).toEqual(["runtime", "packages"]);
    expect(names.indexOf("cuda-runner")).toBeGreaterThan(names.indexOf("packages"));
  });

  it("with JetPack's apt source: pre-flight passes and the plan names the CUDA build from node-llama-cpp's bundled source", async () => {
    const ctx = createContext(opts({ l4t: JETPACK }));
    await expect(preflightStep.run(ctx, {})).resolves.toBeUndefined();
    const plan = planCudaRunner(cudaRunnerInputs(ctx));
    if ("skip" in plan) throw new Error(plan.skip);
    expect(plan.command.join(" ")).toBe("node node_modules/node-llama-cpp/dist/cli/cli.js source download --gpu cuda --noUsageExample");
    expect(plan.buildPackages).toEqual(expect.arrayContaining(["cmake", "g++", "nvidia-cuda-dev"]));
    expect(plan.runtimePackages).toEqual(["nvidia-cuda"]);
    // Built for the Orin's GPU, with the same option the service sees, so getLlama finds the build folder.
    expect(plan.env[`${CMAKE_OPTION_ENV}CMAKE_CUDA_ARCHITECTURES`]).toBe("87");
    expect(serviceEnvironment(ctx.board)[`${CMAKE_OPTION_ENV}CMAKE_CUDA_ARCHITECTURES`]).toBe("87");
    expect(plan.env.CUDACXX).toBe("/usr/local/cuda/bin/nvcc");
    // The cache key is stable for the same inputs and changes with the L4T source.
    expect(planCudaRunner(cudaRunnerInputs(createContext(opts({ l4t: JETPACK }))))).toMatchObject({ cacheKey: plan.cacheKey });
    const other = planCudaRunner(cudaRunnerInputs(createContext(opts({ l4t: JETPACK.replace("r36.4", "r36.3") }))));
    expect("cacheKey" in other && other.cacheKey).not.toBe(plan.cacheKey);
  });

  it("with a BSP directory: built when the directory has the CUDA toolkit, else it says what is missing", () => {
    const bsp = join(tmp, "bsp");
    mkdirSync(bsp, { recursive: true });
    writeFileSync(join(bsp, "nvidia-l4t-core_36.4.0_arm64.deb"), "");
    const withoutToolkit = planCudaRunner(cudaRunnerInputs(createContext(opts({ l4t: bsp }))));
    expect(withoutToolkit).toHaveProperty("skip");
    expect((withoutToolkit as { skip: string }).skip).toMatch(/no CUDA toolkit .*runs llama.cpp on the CPU/);
    writeFileSync(join(bsp, "cuda-nvcc-12-6_12.6.68-1_arm64.deb"), "");
    expect(planCudaRunner(cudaRunnerInputs(createContext(opts({ l4t: bsp }))))).toHaveProperty("command");
  });

  it("without --l4t the step is skipped and says the image runs llama.cpp on the CPU, and how to get CUDA", async () => {
    const out = await cudaRunnerStep.run(createContext(opts()), {} as never);
    expect(out).toBeInstanceOf(Skipped);
    expect((out as Skipped<void>).reason).toMatch(/no --l4t given: this jetson-orin image runs llama.cpp on the CPU/);
    expect((out as Skipped<void>).reason).toMatch(/--l4t 'deb URL SUITE COMPONENT'/);
  });

  it("other boards skip it: they run llama.cpp on the CPU, built for theirs by the llama-addon step", async () => {
    for (const board of ["x86_64", "rpi4", "rpi5"]) {
      const out = await cudaRunnerStep.run(createContext(opts({ board })), {} as never);
      expect((out as Skipped<void>).reason, board).toMatch(/no NVIDIA L4T layer: llama.cpp runs on the CPU \(the llama-addon step's build for /);
    }
  });
});
