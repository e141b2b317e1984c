import { onTestFailed } from "vitest";

/**
 * Marks a long test's steps and prints them, with their start times, only if the test fails: a test that
 * times out names no line, so the trail says which step it was in. `state` adds what the test looked at
 * (a status object) at the moment of failure. Call it inside the test.
 */
export function stepTrail(name: string, state?: () => unknown): (step: string) => void {
  const t0 = Date.now();
  const steps: string[] = [];
  onTestFailed(() => {
    let now = "";
    try {
      now = state ? `\n  state at failure: ${JSON.stringify(state())}` : "";
    } catch (err) {
      now = `\n  state at failure unreadable: ${(err as Error).message}`;
    }
    process.stdout.write(`${name}: failed ${Date.now() - t0} ms in; steps (ms from start):\n${steps.join("\n")}${now}\n`);
  });
  return (step) => {
    steps.push(`  ${String(Date.now() - t0).padStart(7)} ${step}`);
  };
}
