import type { BuildContext } from "../BuildContext.js";
import type { StepOutputs } from "../StepOutputs.js";

export type StepName = keyof StepOutputs;

/** A step that did not apply: why, and what it yields anyway (later steps may read it). */
export class Skipped<T> {
  constructor(
    readonly reason: string,
    readonly value: T,
  ) {}
}

export function skip(reason: string): Skipped<void>;
export function skip<T>(reason: string, value: T): Skipped<T>;
export function skip<T>(reason: string, value?: T): Skipped<T | undefined> {
  return new Skipped(reason, value);
}

/**
 * One named step of the build. It reads the build's context and the outputs
 * of the earlier steps it `needs` (nothing else), and returns its own output,
 * or `skip(why)` when it does not apply. `needs` also orders the build:
 * a step that relies on what an earlier step did to the rootfs tree names it.
 */
export interface Step<N extends StepName = StepName, Needs extends StepName = StepName> {
  readonly name: N;
  readonly title: string;
  readonly needs: readonly Needs[];
  // A property, not a method, so that the compiler checks `inputs` strictly (method parameters are bivariant).
  readonly run: (ctx: BuildContext, inputs: Pick<StepOutputs, Needs>) => Promise<StepOutputs[N] | Skipped<StepOutputs[N]>>;
}

/** Declares a step, inferring its name and needs from the literal. */
export function defineStep<N extends StepName, Needs extends StepName = never>(step: Step<N, Needs>): Step<N, Needs> {
  return step;
}
