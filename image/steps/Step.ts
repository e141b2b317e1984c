import type { BuildContext } from "../BuildContext.js";

/**
 * One named step of the build. `run` returns a string (why) when the step
 * does not apply and did nothing; undefined when it did its work.
 */
export interface Step {
  readonly name: string;
  readonly title: string;
  run(ctx: BuildContext): Promise<string | undefined>;
}
