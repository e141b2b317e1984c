import { cpSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { parseCpuinfo } from "../../hardware/parsers/cpuinfo.js";
import type { LlamaAddonBuilt } from "../StepOutputs.js";
import { inChroot, withChroot } from "../lib/chroot.js";
import { LOCAL_BUILDS } from "../lib/cudaRunner.js";
import { exec } from "../lib/exec.js";
import { parseOsRelease, planLlamaAddon, LLAMA_CHECK_SCRIPT, parseLlamaCheck } from "../lib/llamaAddon.js";
import { defineStep } from "./Step.js";

/**
 * Step 3c: llama.cpp for the board's CPU. node-llama-cpp's addon is built from
 * the source it ships, with our thread-pool patch (scripts/patches: a
 * persistent pool, so generation holds up when another process wants the
 * CPU), compiled for the board profile's `llamaCpu` (cross-compiled for
 * arm64) and cached per architecture and instruction set in .cache/llama-addon.
 * It goes into /opt/sovereign as node-llama-cpp's local build, replacing any
 * build of the build host's own CPU, with `sovereign-isa` beside it: a CPU
 * without those instructions gets the prebuilt (hardware/llamaLocalBuild.ts).
 * Then the image's own Node loads it in the rootfs, through qemu-user as the
 * board's core for arm64, and generates a few tokens with the smallest
 * --model, so a build that cannot run there stops the image here.
 */
export const llamaAddonStep = defineStep({
  name: "llama-addon",
  title: "Build llama.cpp for the board's CPU (node-llama-cpp's addon, thread-pool patch)",
  needs: ["runtime", "packages"],
  async run(ctx): Promise<LlamaAddonBuilt> {
    const cpuFlags = parseCpuinfo(readFileSync("/proc/cpuinfo", "utf8")).flags;
    const plan = planLlamaAddon(ctx.board, { arch: process.arch, cpuFlags }, ctx.options.models.map((m) => ({ path: m, bytes: statSync(m).size })));
    const out = join(ctx.work, "llama-addon");
    rmSync(out, { recursive: true, force: true });
    ctx.progress(`llama.cpp for ${ctx.board.llamaCpu.title}: ${plan.cross ? "cross-compiling" : "compiling"} for ${plan.arch} (a few minutes once; cached in .cache/llama-addon)`);
    const started = Date.now();
    await exec("bash", [join(ctx.options.repoRoot, "scripts", "build-llama-addon.sh"), "--arch", plan.arch, "--isa", plan.isa.join(" "), "--out", out], { logFile: ctx.logFile }).catch((err: unknown) => {
      throw new SovereignError("IMAGE_COMMAND_FAILED", `building llama.cpp for ${ctx.board.llamaCpu.title} failed (the build log has the compiler's output): ${(err as Error).message}`, { cause: err });
    });
    const buildSeconds = Math.round((Date.now() - started) / 1000);

    const dest = join(ctx.rootfs, LOCAL_BUILDS, plan.folder);
    rmSync(dest, { recursive: true, force: true });
    cpSync(out, dest, { recursive: true });
    const addon = join(dest, "Release", "llama-addon.node");
    await exec(plan.strip, ["--strip-unneeded", addon], { logFile: ctx.logFile });
    // node-llama-cpp tests a local build in a child process before loading it when the build's metadata names
    // another system than the one it runs on: name the image's.
    const metaPath = join(dest, "Release", "_nlcBuildMetadata.json");
    const meta = JSON.parse(readFileSync(metaPath, "utf8")) as { buildOptions: { platformInfo: { name: string; version: string } } };
    const osRelease = ["etc/os-release", "usr/lib/os-release"].map((p) => join(ctx.rootfs, p)).find((p) => existsSync(p));
    if (osRelease) meta.buildOptions.platformInfo = parseOsRelease(readFileSync(osRelease, "utf8"));
    writeFileSync(metaPath, JSON.stringify(meta));
    const bytes = statSync(addon).size;

    if (plan.notTried) {
      ctx.progress(`llama.cpp build: ${(bytes / 1024 ** 2).toFixed(1)} MiB, not tried in the image: ${plan.notTried}`);
      return { cpu: ctx.board.llamaCpu.title, isa: plan.isa, bytes, buildSeconds, ranAs: null, generatedTokens: null };
    }
    // The check runs from the app directory, so that the script's imports resolve in /opt/sovereign/node_modules.
    const script = join(ctx.rootfs, "opt/sovereign", LLAMA_CHECK_SCRIPT);
    const model = plan.model ? join(ctx.rootfs, "opt/sovereign", ".llama-check.gguf") : null;
    writeFileSync(script, llamaCheckSource());
    if (plan.model && model) cpSync(plan.model, model);
    let output: string;
    try {
      output = await withChroot(ctx.rootfs, () =>
        inChroot(ctx.rootfs, ["node", `/opt/sovereign/${LLAMA_CHECK_SCRIPT}`, ...(model ? ["/opt/sovereign/.llama-check.gguf"] : [])], {
          logFile: ctx.logFile,
          // qemu-user reads its CPU model from QEMU_CPU: the build runs as the board's core would run it.
          env: plan.qemuCpu ? { QEMU_CPU: plan.qemuCpu } : {},
        }),
      );
    } catch (err) {
      throw new SovereignError("IMAGE_COMMAND_FAILED", `the llama.cpp build for ${ctx.board.llamaCpu.title} does not run in the image${plan.qemuCpu ? ` (qemu-user as ${plan.qemuCpu})` : ""}: ${(err as Error).message}`, { cause: err });
    } finally {
      rmSync(script, { force: true });
      if (model) rmSync(model, { force: true });
    }
    const check = parseLlamaCheck(output);
    if (check.buildType !== "localBuild")
      throw new SovereignError("IMAGE_COMMAND_FAILED", `the image's Node loaded node-llama-cpp's ${check.buildType ?? "no"} binary, not the build for ${ctx.board.llamaCpu.title}`);
    ctx.progress(`llama.cpp build: ${(bytes / 1024 ** 2).toFixed(1)} MiB, loads in the image${plan.qemuCpu ? ` as a ${plan.qemuCpu}` : ""}${check.generated !== null ? `, generated ${check.generated} tokens with ${plan.modelName}` : " (no --model to generate with)"}; ${check.systemInfo}`);
    return { cpu: ctx.board.llamaCpu.title, isa: plan.isa, bytes, buildSeconds, ranAs: plan.qemuCpu ?? "host", generatedTokens: check.generated };
  },
});

/** Run by the image's Node inside the rootfs: load the local build (never the prebuilt), generate greedily if given a model. */
function llamaCheckSource(): string {
  return `import { getLlama, LlamaCompletion } from "node-llama-cpp";
const llama = await getLlama({ gpu: false, build: "never", usePrebuiltBinaries: false, skipDownload: true, progressLogs: false, logLevel: "error" });
const result = { buildType: llama.buildType, systemInfo: llama.systemInfo.trim(), generated: null };
const modelPath = process.argv[2];
if (modelPath) {
  llama.maxThreads = 1;
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const context = await model.createContext({ contextSize: 128, threads: 1 });
  let n = 0;
  await new LlamaCompletion({ contextSequence: context.getSequence() }).generateCompletion("The node", { maxTokens: 4, temperature: 0, onToken: (t) => { n += t.length; } });
  result.generated = n;
  await context.dispose();
  await model.dispose();
}
console.log("LLAMA_CHECK " + JSON.stringify(result));
await llama.dispose();
`;
}
