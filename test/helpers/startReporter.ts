// A vitest reporter that says when each image-suite test starts, with the minutes since the run began.
// The default reporter prints a file only once it has finished; a CI run cut off at its time limit then
// ends on the last fast test that finished and never names the boot it was waiting on (stop 29).
import { relative } from "node:path";
import type { Reporter, TestCase, TestModule } from "vitest/node";

/** The suites whose single tests run for minutes (image builds and qemu boots). */
const LONG = /test\/e2e\/image\.[^/]+\.test\.ts$/;

export default class StartReporter implements Reporter {
  private readonly started = Date.now();

  private say(what: string): void {
    const min = ((Date.now() - this.started) / 60_000).toFixed(1);
    process.stdout.write(`▶ ${min} min: ${what}\n`);
  }

  /** The suite's path from the working directory, for an image suite; undefined for any other. */
  private longSuite(moduleId: string): string | undefined {
    return LONG.test(moduleId) ? relative(process.cwd(), moduleId) : undefined;
  }

  onTestModuleStart(module: TestModule): void {
    const suite = this.longSuite(module.moduleId);
    if (suite) this.say(`${suite} started (its build runs first)`);
  }

  onTestCaseReady(test: TestCase): void {
    const suite = this.longSuite(test.module.moduleId);
    if (suite) this.say(`${suite} › ${test.name}`);
  }
}
