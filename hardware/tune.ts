import type { HardwareFacts } from "./HardwareFacts.js";
import type { Calibration, ModelShape, Tuning, TuningOverrides } from "./Tuning.js";
import { heuristic, override, tuneThreads } from "./tuneThreads.js";
import { tuneModelBudget, tuneRecommendedModel, tuneSequences, tuneSqliteCache } from "./tuneMemory.js";
import { tuneGpu, tuneRunners } from "./tuneRunners.js";

/**
 * Turns hardware facts into runtime settings, each with a one-line reason.
 * Pure. Overrides always win (except GPU layers where no GPU build of llama.cpp
 * loads: they stay 0, and the reason says so); a calibration measured on this
 * CPU set beats the heuristics for thread counts; `model` (when loaded) sizes the KV cache.
 */
export function tune(facts: HardwareFacts, overrides: TuningOverrides = {}, calibration: Calibration | null = null, model: ModelShape | null = null): Tuning {
  const o = overrides;
  const threads = tuneThreads(facts, o, calibration);
  const modelRamBudgetMb = tuneModelBudget(facts, o);
  const runners = tuneRunners(facts, o, modelRamBudgetMb.value);
  const seq = tuneSequences(facts, o, runners.runnerMemoryMaxMb.value, threads.inferenceCores, model);
  const { gpuBackend, gpuLayers } = tuneGpu(facts, o, model);

  const embeddingThreads =
    o.embeddingThreads != null
      ? override(o.embeddingThreads, "set in config")
      : heuristic(
          Math.min(4, threads.inferenceCores),
          `${Math.min(4, threads.inferenceCores)}: embeddings run in a worker thread off the event loop, before generation (queries) or in jobs, on the generation cores; small encoders stop scaling past 4`,
        );

  const heavy = facts.gpu.usable || threads.inferenceCores >= 8;
  const jobWindows = heuristic(
    heavy ? { summarize: "15 * * * *", backup: "30 3 * * *" } : { summarize: "0 2 * * *", backup: "30 3 * * *" },
    heavy
      ? "hourly summaries: this node has the headroom; nightly backup at 03:30"
      : "summaries at 02:00 and backup at 03:30, when nobody is chatting: inference would compete with them for the cores",
  );

  return {
    generationThreads: threads.generationThreads,
    promptThreads: threads.promptThreads,
    engineThreads: threads.engineThreads,
    runners: runners.runners,
    runnerMemoryMaxMb: runners.runnerMemoryMaxMb,
    parallelSequences: seq.parallelSequences,
    contextSize: seq.contextSize,
    batchSize: seq.batchSize,
    gpuBackend,
    gpuLayers,
    embeddingThreads,
    modelRamBudgetMb,
    recommendedModel: tuneRecommendedModel(facts, modelRamBudgetMb.value),
    sqliteCacheMb: tuneSqliteCache(facts, o),
    reservedCores: threads.reservedCores,
    jobWindows,
  };
}
