import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { SovereignError } from "../core/errors/SovereignError.js";
import type { BoardProfile } from "./boards/BoardProfile.js";
import { boards, findBoard } from "./boards/registry.js";
import { luksCipherSchema, validateBoardProfile } from "./boards/schema.js";
import type { BuildContext, BuildOptions, StepTiming } from "./BuildContext.js";
import type { Distro } from "./distros/Distro.js";
import { defaultDistro, distros, findDistro } from "./distros/registry.js";
import { unmountAll } from "./lib/chroot.js";
import { killActive } from "./lib/exec.js";
import type { StepOutputs } from "./StepOutputs.js";
import { assembleStep } from "./steps/assemble.js";
import { bootPartitionStep } from "./steps/bootPartition.js";
import { bootstrapStep } from "./steps/bootstrap.js";
import { compressStep } from "./steps/compress.js";
import { configureStep } from "./steps/configure.js";
import { cudaRunnerStep } from "./steps/cudaRunner.js";
import { dataImageStep } from "./steps/dataImage.js";
import { encryptStep } from "./steps/encrypt.js";
import { initramfsStep } from "./steps/initramfs.js";
import { llamaAddonStep } from "./steps/llamaAddon.js";
import { kernelModulesStep } from "./steps/kernelModules.js";
import { keysStep } from "./steps/keys.js";
import { manifestStep } from "./steps/manifest.js";
import { modelsStep } from "./steps/models.js";
import { packagesStep } from "./steps/packages.js";
import { preflightStep } from "./steps/preflight.js";
import { rootfsImageStep } from "./steps/rootfsImage.js";
import { runtimeStep } from "./steps/runtime.js";
import { slotVerityStep } from "./steps/slotVerity.js";
import { Skipped, type Step, type StepName } from "./steps/Step.js";

export type AnyStep = Step<StepName, StepName>;

/**
 * Steps in order. `then` accepts a step only when every step it needs is
 * already in the list and its name is not, so a step that reads what no
 * earlier step produced does not compile.
 */
export class StepList<Done extends StepName> {
  constructor(readonly steps: readonly AnyStep[] = []) {}
  then<N extends Exclude<StepName, Done>, Needs extends Done>(step: Step<N, Needs>): StepList<Done | N> {
    // The same rule at run time, for lists built from values the compiler cannot see.
    const has = (n: string): boolean => this.steps.some((s) => s.name === n);
    if (has(step.name)) throw new Error(`step ${step.name} is already in the list`);
    const missing = step.needs.filter((n) => !has(n));
    if (missing.length > 0) throw new Error(`step ${step.name} needs ${missing.join(", ")}, which would not have run`);
    return new StepList<Done | N>([...this.steps, step]);
  }
}

// Typed as the list of every step: leaving one out does not compile either.
const build: StepList<StepName> = new StepList<never>()
  .then(preflightStep)
  .then(keysStep)
  .then(bootstrapStep)
  .then(runtimeStep)
  .then(packagesStep)
  .then(cudaRunnerStep)
  .then(llamaAddonStep)
  .then(configureStep)
  .then(modelsStep)
  .then(kernelModulesStep)
  .then(initramfsStep)
  // Before the root filesystem, so that it can leave out what the boot partition already carries.
  .then(bootPartitionStep)
  // A/B: the node's own files leave the root tree for the data partition before the root is made.
  .then(dataImageStep)
  .then(rootfsImageStep)
  .then(slotVerityStep)
  .then(encryptStep)
  .then(assembleStep)
  .then(compressStep)
  .then(manifestStep);

/** The build, in order. Each step is one file in ./steps and returns early where it does not apply. */
export const pipeline: readonly AnyStep[] = build.steps;

export interface BuildEvents {
  onStepStart?(step: AnyStep, index: number, total: number): void;
  onStepEnd?(timing: StepTiming): void;
  onProgress?(step: string, message: string): void;
}

export interface BuildResult {
  name: string;
  board: string;
  distro: string;
  image: string;
  manifest: string;
  passphraseFile?: string;
  usbKeyImage?: string;
  /** The recovery key's file beside the image (0600); the key itself is never in the result or the log. */
  recoveryKeyFile?: string;
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

export function resolveDistro(id: string | undefined): Distro {
  if (id === undefined) return defaultDistro;
  const d = findDistro(id);
  if (!d) throw new SovereignError("IMAGE_OPTION_INVALID", `unknown distro "${id}" (known: ${distros.map((x) => x.id).join(", ")})`);
  return d;
}

/** The board as built: the test knob `deviceCipher` replaces the cipher first boot re-encrypts to. */
function boardFor(options: BuildOptions): BoardProfile {
  const profile = resolveBoard(options.board);
  if (!options.deviceCipher) return profile;
  const cipher = luksCipherSchema.safeParse(options.deviceCipher);
  if (!cipher.success) throw new SovereignError("IMAGE_OPTION_INVALID", `device cipher "${options.deviceCipher}" is not one of ${luksCipherSchema.options.join(", ")}`);
  return { ...profile, luks: { ...profile.luks, cipher: cipher.data, keySize: cipher.data.includes("adiantum") ? 256 : profile.luks.keySize } };
}

/** A context while the build runs: the step being run, and the paths to remove at the end. */
export interface RunningBuild extends BuildContext {
  readonly timings: StepTiming[];
  setCurrentStep(name: string): void;
  readonly discards: { readonly atEnd: readonly string[]; readonly onFailure: readonly string[] };
}

/** Creates the context (no side effects beyond choosing names). */
export function createContext(options: BuildOptions, events: BuildEvents = {}): RunningBuild {
  const board = boardFor(options);
  const distro = resolveDistro(options.distro);
  const unlock = options.unlock ?? board.unlock[0] ?? "passphrase";
  const date = new Date().toISOString().slice(0, 10).replace(/-/g, "");
  const name = `sovereign-${board.id}-${date}`;
  const work = resolve(options.out, `.work-${name}-${process.pid}`);
  const atEnd: string[] = [];
  const onFailure: string[] = [];
  let current = "";
  return {
    options: { ...options, out: resolve(options.out), cache: resolve(options.cache) },
    board,
    distro,
    unlock,
    name,
    work,
    rootfs: join(work, "rootfs"),
    logFile: join(work, "build.log"),
    timings: [],
    progress: (message: string) => events.onProgress?.(current, message),
    discardAtEnd: (path: string) => void atEnd.push(path),
    discardOnFailure: (path: string) => void onFailure.push(path),
    discards: { atEnd, onFailure },
    setCurrentStep: (s: string) => {
      current = s;
    },
  };
}

/** Removes the scratch directory and any partial outputs; never follows the bind mounts into the host. */
export function cleanup(ctx: RunningBuild, keepLog = true, failed = false): void {
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
  for (const p of ctx.discards.atEnd) rmSync(p, { force: true });
  if (failed) for (const p of ctx.discards.onFailure) rmSync(p, { force: true });
  rmSync(ctx.work, { recursive: true, force: true });
}

/** Runs one step with the outputs of the steps it needs; returns its output and, when it did not apply, why. */
async function runStep(ctx: BuildContext, step: AnyStep, outputs: Partial<StepOutputs>): Promise<{ value: unknown; skipped?: string }> {
  const missing = step.needs.filter((n) => !(n in outputs));
  // The step list's types rule this out; a bug if it happens.
  if (missing.length > 0) throw new Error(`step ${step.name} needs ${missing.join(", ")}, which did not run`);
  const inputs: Partial<StepOutputs> = {};
  for (const n of step.needs) Object.assign(inputs, { [n]: outputs[n] });
  // Checked just above: every needed output is there.
  const r = await step.run(ctx, inputs as StepOutputs);
  return r instanceof Skipped ? { value: r.value, skipped: r.reason } : { value: r };
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
  const outputs: Partial<StepOutputs> = {};
  let ok = false;
  try {
    for (const [i, step] of pipeline.entries()) {
      // Everything after pre-flight writes: first the scratch dir and its log.
      if (i === 1) {
        mkdirSync(ctx.work, { recursive: true });
        writeFileSync(ctx.logFile, "");
      }
      ctx.setCurrentStep(step.name);
      events.onStepStart?.(step, i, pipeline.length);
      const t0 = performance.now();
      const { value, skipped } = await runStep(ctx, step, outputs);
      (outputs as Record<StepName, unknown>)[step.name] = value;
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
  return buildResult(ctx, outputs);
}

/** What the CLI prints; after --stop-after, the outputs of steps that did not run are empty. */
function buildResult(ctx: RunningBuild, o: Partial<StepOutputs>): BuildResult {
  return {
    name: ctx.name,
    board: ctx.board.id,
    distro: ctx.distro.id,
    image: o.compress?.image ?? "",
    manifest: o.manifest?.path ?? "",
    ...(o.keys?.passphraseFile ? { passphraseFile: o.keys.passphraseFile } : {}),
    ...(o.keys?.usbKeyImage ? { usbKeyImage: o.keys.usbKeyImage } : {}),
    ...(o.keys?.recoveryKeyFile ? { recoveryKeyFile: o.keys.recoveryKeyFile } : {}),
    luksUuid: o.configure?.ids.luksUuid ?? "",
    timings: ctx.timings,
    sizes: { diskBytes: o.assemble?.bytes ?? 0, imageBytes: o.manifest?.files[0]?.bytes ?? 0, rootfsBytes: o["rootfs-image"]?.fsBytes ?? 0 },
  };
}
