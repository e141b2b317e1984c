import type { HardwareFacts } from "./HardwareFacts.js";
import type { Calibration, Choice, ModelShape, Tuning, TuningOverrides } from "./Tuning.js";
import { heuristic, override, tuneThreads } from "./tuneThreads.js";
import { tuneModelBudget, tuneRecommendedModel, tuneSequences, tuneSqliteCache } from "./tuneMemory.js";

/**
 * Turns hardware facts into runtime settings, each with a one-line reason.
 * Pure. Overrides always win; a calibration measured on this CPU set beats
 * the heuristics for thread counts; `model` (when loaded) sizes the KV cache.
 */
export function tune(facts: HardwareFacts, overrides: TuningOverrides = {}, calibration: Calibration | null = null, model: ModelShape | null = null): Tuning {
  const o = overrides;
  const threads = tuneThreads(facts, o, calibration);
  const modelRamBudgetMb = tuneModelBudget(facts, o);
  const seq = tuneSequences(facts, o, modelRamBudgetMb.value, threads.inferenceCores, model);

  let gpuLayers: Choice<number>;
  if (o.gpuLayers != null) gpuLayers = override(o.gpuLayers, "set in config");
  else if (facts.gpu.usable) {
    gpuLayers = model
      ? heuristic(model.layers + 1, `every layer of the model (${model.layers} + output) on the GPU: ${facts.gpu.name ?? facts.gpu.kind}`)
      : heuristic(999, `every layer on the GPU (llama.cpp caps it at the model's count): ${facts.gpu.name ?? facts.gpu.kind}`);
  } else {
    gpuLayers = heuristic(0, facts.gpu.kind === "none" ? "no GPU found" : `GPU not used: ${facts.gpu.note ?? "not usable"}`);
  }

  const embeddingThreads =
    o.embeddingThreads != null
      ? override(o.embeddingThreads, "set in config")
      : heuristic(
          Math.min(4, threads.inferenceCores),
          `${Math.min(4, threads.inferenceCores)}: embeddings run before generation (queries) or in jobs, on the inference cores; small encoders stop scaling past 4`,
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
    parallelSequences: seq.parallelSequences,
    contextSize: seq.contextSize,
    batchSize: seq.batchSize,
    gpuLayers,
    embeddingThreads,
    modelRamBudgetMb,
    recommendedModel: tuneRecommendedModel(facts, modelRamBudgetMb.value),
    sqliteCacheMb: tuneSqliteCache(facts, o),
    reservedCores: threads.reservedCores,
    jobWindows,
  };
}
