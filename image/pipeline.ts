import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { SovereignError } from "../core/errors/SovereignError.js";
import type { BoardProfile } from "./boards/BoardProfile.js";
import { boards, findBoard } from "./boards/registry.js";
import { validateBoardProfile } from "./boards/schema.js";
import type { BuildContext, BuildOptions, StepTiming } from "./BuildContext.js";
import { unmountAll } from "./lib/chroot.js";
import { USB_KEY_FILE, USB_KEY_LABEL } from "./lib/bootConfig.js";
import { assembleStep } from "./steps/assemble.js";
import { bootPartitionStep } from "./steps/bootPartition.js";
import { bootstrapStep } from "./steps/bootstrap.js";
import { compressStep } from "./steps/compress.js";
import { configureStep } from "./steps/configure.js";
import { encryptStep } from "./steps/encrypt.js";
import { initramfsStep } from "./steps/initramfs.js";
import { kernelModulesStep } from "./steps/kernelModules.js";
import { manifestStep } from "./steps/manifest.js";
import { modelsStep } from "./steps/models.js";
import { packagesStep } from "./steps/packages.js";
import { preflightStep } from "./steps/preflight.js";
import { rootfsImageStep } from "./steps/rootfsImage.js";
import { runtimeStep } from "./steps/runtime.js";
import type { Step } from "./steps/Step.js";
import { exec, killActive } from "./lib/exec.js";

/** The build, in order. Each step is one file in ./steps and returns early where it does not apply. */
export const pipeline: readonly Step[] = [
  preflightStep,
  bootstrapStep,
  runtimeStep,
  packagesStep,
  configureStep,
  modelsStep,
  kernelModulesStep,
  initramfsStep,
  // Before the root filesystem, so that it can leave out what the boot partition already carries.
  bootPartitionStep,
  rootfsImageStep,
  encryptStep,
  assembleStep,
  compressStep,
  manifestStep,
];

export interface BuildEvents {
  onStepStart?(step: Step, index: number, total: number): void;
  onStepEnd?(timing: StepTiming): void;
  onProgress?(step: string, message: string): void;
}

export interface BuildResult {
  name: string;
  board: string;
  image: string;
  manifest: string;
  passphraseFile?: string;
  usbKeyImage?: string;
  luksUuid: string;
  timings: StepTiming[];
  sizes: { diskBytes: number; imageBytes: number; rootfsBytes: number };
}

export function resolveBoard(id: string): BoardProfile {
  const board = findBoard(id);
  if (!board) throw new SovereignError("IMAGE_UNKNOWN_BOARD", `unknown board "${id}" (known: ${boards.map((b) => b.id).join(", ")})`);
  const v = validateBoardProfile(board);
  if (!v.ok) throw new SovereignError("IMAGE_BOARD_INVALID", `board profile ${id} is invalid: ${v.problems.join("; ")}`);
  return board;
}

/** Creates the context (no side effects beyond choosing names). */
export function createContext(options: BuildOptions, events: BuildEvents = {}): BuildContext & { setCurrentStep(name: string): void } {
  const profile = resolveBoard(options.board);
  const cipher = options.deviceCipher;
  const board = cipher ? { ...profile, luks: { ...profile.luks, cipher, keySize: cipher.includes("adiantum") ? 256 : profile.luks.keySize } } : profile;
  const unlock = options.unlock ?? board.unlock[0] ?? "passphrase";
  const date = new Date().toISOString().slice(0, 10).replace(/-/g, "");
  const name = `sovereign-${board.id}-${date}`;
  const work = resolve(options.out, `.work-${name}-${process.pid}`);
  let current = "";
  return {
    options: { ...options, out: resolve(options.out), cache: resolve(options.cache) },
    board,
    unlock,
    name,
    work,
    rootfs: join(work, "rootfs"),
    logFile: join(work, "build.log"),
    state: { outputs: [], models: [], cachePartials: [] },
    timings: [],
    progress: (message: string) => events.onProgress?.(current, message),
    setCurrentStep: (s: string) => {
      current = s;
    },
  };
}

/** Removes the scratch directory and any partial outputs; never follows the bind mounts into the host. */
export function cleanup(ctx: BuildContext, keepLog = true, failed = false): void {
  try {
    unmountAll(ctx.rootfs);
  } catch {
    /* already gone */
  }
  if (keepLog) {
    try {
      writeFileSync(join(ctx.options.out, `${ctx.name}.build.log`), readFileSync(ctx.logFile));
    } catch {
      /* no log yet */
    }
  }
  if (ctx.state.diskTmp) rmSync(ctx.state.diskTmp, { force: true });
  for (const o of ctx.state.outputs) rmSync(`${o.path}.partial`, { force: true });
  for (const p of ctx.state.cachePartials) rmSync(p, { force: true });
  if (failed) {
    // Keys for an image that was never finished are of no use to anyone.
    if (ctx.state.passphraseOut) rmSync(ctx.state.passphraseOut, { force: true });
    rmSync(join(ctx.options.out, `${ctx.name}.usbkey.img`), { force: true });
  }
  rmSync(ctx.work, { recursive: true, force: true });
}

/**
 * Runs the pipeline. On any failure or on SIGINT/SIGTERM the scratch space
 * and every .partial file are removed, so nothing half-built is left under a
 * final name.
 */
export async function runBuild(options: BuildOptions, events: BuildEvents = {}): Promise<BuildResult> {
  const ctx = createContext(options, events);
  const onSignal = (sig: NodeJS.Signals): void => {
    killActive();
    cleanup(ctx, true, true);
    process.stderr.write(`sovereign: build interrupted (${sig}); removed ${ctx.work}\n`);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let ok = false;
  try {
    for (const [i, step] of pipeline.entries()) {
      if (i === 1) await prepareWork(ctx);
      ctx.setCurrentStep(step.name);
      events.onStepStart?.(step, i, pipeline.length);
      const t0 = performance.now();
      const skipped = await step.run(ctx);
      const timing: StepTiming = { step: step.name, seconds: Math.round((performance.now() - t0) / 100) / 10, skipped: skipped !== undefined, ...(skipped ? { note: skipped } : {}) };
      ctx.timings.push(timing);
      events.onStepEnd?.(timing);
      if (options.stopAfter === step.name) break;
    }
    ok = true;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (!ok || !options.stopAfter) cleanup(ctx, true, !ok);
  }
  const image = ctx.state.outputs[0]?.path ?? "";
  return {
    name: ctx.name,
    board: ctx.board.id,
    image,
    manifest: ctx.state.manifestPath ?? "",
    ...(ctx.state.passphraseOut ? { passphraseFile: ctx.state.passphraseOut } : {}),
    ...(ctx.unlock === "usb-key" ? { usbKeyImage: join(ctx.options.out, `${ctx.name}.usbkey.img`) } : {}),
    luksUuid: ctx.state.luksUuid ?? "",
    timings: ctx.timings,
    sizes: { diskBytes: ctx.state.diskBytes ?? 0, imageBytes: ctx.state.outputs[0]?.bytes ?? 0, rootfsBytes: ctx.state.rootFsBytes ?? 0 },
  };
}

/** After pre-flight: scratch dir, the build key, and (usb-key) the key stick image beside the output. */
async function prepareWork(ctx: BuildContext): Promise<void> {
  mkdirSync(ctx.work, { recursive: true });
  writeFileSync(ctx.logFile, "");
  const o = ctx.options;
  if (o.passphraseFile) {
    ctx.state.buildKey = readFileSync(o.passphraseFile);
  } else {
    // Printable, so it can be typed at the console; 24 chars of base32 ≈ 120 bits.
    const pass = randomBytes(15).toString("base64url").replace(/[-_]/g, "x");
    ctx.state.buildKey = Buffer.from(pass);
    ctx.state.passphraseOut = join(o.out, `${ctx.name}.passphrase`);
    writeFileSync(ctx.state.passphraseOut, pass, { mode: 0o600 });
  }
  if (ctx.unlock === "usb-key") await writeUsbKeyImage(ctx);
}

/** A small FAT image labelled SOVKEY holding the key file: dd it to a stick, or copy the file onto any stick with that label. */
async function writeUsbKeyImage(ctx: BuildContext): Promise<void> {
  const img = join(ctx.options.out, `${ctx.name}.usbkey.img`);
  const key = join(ctx.work, "usb.key");
  writeFileSync(key, ctx.state.buildKey ?? "", { mode: 0o600 });
  rmSync(img, { force: true });
  await exec("mkfs.vfat", ["-n", USB_KEY_LABEL, "-C", img, String(8 * 1024)], { logFile: ctx.logFile });
  await exec("mcopy", ["-i", img, key, `::/${USB_KEY_FILE}`], { logFile: ctx.logFile, env: { ...process.env, MTOOLS_SKIP_CHECK: "1" } });
}
