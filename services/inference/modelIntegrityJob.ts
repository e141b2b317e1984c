import type { Scheduler } from "../scheduler/Scheduler.js";
import type { ModelRegistry } from "./ModelRegistry.js";

/** The weekly check of the installed models, a job of the inference service on the scheduler. */
export function registerModelIntegrityJob(scheduler: Pick<Scheduler, "register">, registry: Pick<ModelRegistry, "verify">): void {
  scheduler.register({
    name: "model-integrity",
    schedule: "30 4 * * 0",
    description: "Verifies the checksums of the installed models.",
    onlyWhenIdle: true,
    timeoutMs: 30 * 60_000,
    run: async () => {
      // ModelRegistry.verify(): every installed model's GGUF structure and sha256 against the manifest.
      const report = await registry.verify();
      const bad = report.filter((r) => !r.ok);
      // A damaged model fails the run, so it shows in the job history and the episodic log.
      if (bad.length > 0) throw new Error(`${bad.length} of ${report.length} model(s) failed verification: ${bad.map((r) => `${r.name} (${r.problem ?? "?"})`).join("; ")}`);
      return { checked: report.length, ok: report.length };
    },
  });
}
