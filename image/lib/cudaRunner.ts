import { createHash } from "node:crypto";
import type { BoardProfile } from "../boards/BoardProfile.js";

/** node-llama-cpp reads custom CMake options from env vars with this prefix, at build time and (for the build folder's name) at run time. */
export const CMAKE_OPTION_ENV = "NODE_LLAMA_CPP_CMAKE_OPTION_";

/** Where node-llama-cpp keeps its own builds, inside the app; `getLlama({ gpu: "cuda", build: "never" })` looks there first. */
export const LOCAL_BUILDS = "opt/sovereign/node_modules/node-llama-cpp/llama/localBuilds";

/** What the CUDA runner build needs to know about its inputs (read by the step, so the plan stays pure). */
export interface CudaRunnerInputs {
  board: BoardProfile;
  /** `--l4t`: a BSP directory or an apt source line; undefined when not given. */
  l4t: string | undefined;
  /** The .deb files of a BSP directory (names only). */
  bspDebs: readonly string[];
  /** Packages the distro names for the layer's build (toolkit, compilers) and its runtime (CUDA libraries). */
  buildPackages: readonly string[];
  runtimePackages: readonly string[];
  /** node-llama-cpp's version and the llama.cpp release it bundles (gitRelease.bundle). */
  nodeLlamaCpp: { version: string; llamaCppRelease: string };
}

export interface CudaRunnerPlan {
  /** Installed in a scratch copy of the rootfs only: the toolkit never reaches the image. */
  buildPackages: string[];
  /** Installed into the image: the CUDA libraries the runner links against. */
  runtimePackages: string[];
  /** Run in the scratch chroot: clone llama.cpp from node-llama-cpp's bundled source, then build it with CUDA. */
  command: string[];
  env: Record<string, string>;
  /** The cached build is reused while this is unchanged (per board, node-llama-cpp, llama.cpp release, L4T source, options). */
  cacheKey: string;
}

const TOOLKIT_DEB = /^(cuda-nvcc|nvidia-cuda-dev|cuda-repo-l4t)/;

/**
 * The Jetson's CUDA runner: node-llama-cpp's linux-arm64 prebuilt is CPU-only,
 * so the image builds llama.cpp with CUDA from the source node-llama-cpp
 * bundles, against the L4T packages the user supplies. Returns why not, in
 * words for the build log, when it does not apply.
 */
export function planCudaRunner(i: CudaRunnerInputs): CudaRunnerPlan | { skip: string } {
  if (i.board.vendorLayer?.name !== "nvidia-l4t") return { skip: `${i.board.id} has no NVIDIA L4T layer: llama.cpp runs on the CPU (the llama-addon step's build for ${i.board.llamaCpu.title})` };
  if (!i.l4t)
    return {
      skip:
        "no --l4t given: this jetson-orin image runs llama.cpp on the CPU (the llama-addon step's build for the Orin's cores). " +
        "For CUDA, build with --l4t 'deb URL SUITE COMPONENT' (JetPack's apt source) or a BSP directory that also holds the CUDA toolkit packages; on the device `sovereign hardware` shows which backend loads",
    };
  const apt = i.l4t.startsWith("deb ");
  if (!apt && !i.bspDebs.some((d) => TOOLKIT_DEB.test(d)))
    return {
      skip:
        `the BSP directory ${i.l4t} has the L4T driver packages but no CUDA toolkit (no cuda-nvcc, nvidia-cuda-dev or cuda-repo-l4t package): ` +
        "the image gets the drivers and runs llama.cpp on the CPU; add the toolkit's packages to the directory, or give JetPack's apt source with --l4t 'deb …'",
    };
  const cmakeEnv = Object.fromEntries(Object.entries(i.board.serviceEnv).filter(([k]) => k.startsWith(CMAKE_OPTION_ENV)));
  const env: Record<string, string> = { ...cmakeEnv, PATH: "/usr/local/cuda/bin:/usr/sbin:/usr/bin:/sbin:/bin", CUDACXX: "/usr/local/cuda/bin/nvcc" };
  const cacheKey = createHash("sha256")
    .update(JSON.stringify({ board: i.board.id, nlc: i.nodeLlamaCpp, l4t: apt ? i.l4t : [...i.bspDebs].sort(), build: i.buildPackages, cmakeEnv }))
    .digest("hex")
    .slice(0, 16);
  return {
    buildPackages: [...i.buildPackages],
    runtimePackages: [...i.runtimePackages],
    // `source download` clones from the bundled git release (offline) and builds; --gpu cuda fails rather than fall back to the CPU.
    command: ["node", "node_modules/node-llama-cpp/dist/cli/cli.js", "source", "download", "--gpu", "cuda", "--noUsageExample"],
    env,
    cacheKey,
  };
}
