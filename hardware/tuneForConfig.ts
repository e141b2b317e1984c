import type { Config } from "../core/config/Config.js";
import type { HardwareFacts } from "./HardwareFacts.js";
import type { Calibration, ModelShape, Tuning, TuningOverrides } from "./Tuning.js";
import { tune } from "./tune.js";

/** The tuning.* settings as overrides (null = auto). */
export function overridesFromConfig(config: Config): TuningOverrides {
  return {
    generationThreads: config["tuning.generationThreads"],
    promptThreads: config["tuning.promptThreads"],
    parallelSequences: config["tuning.parallelSequences"],
    contextSize: config["tuning.contextSize"],
    batchSize: config["tuning.batchSize"],
    gpuLayers: config["tuning.gpuLayers"],
    embeddingThreads: config["tuning.embeddingThreads"],
    modelRamBudgetMb: config["tuning.modelRamBudgetMb"],
    sqliteCacheMb: config["tuning.sqliteCacheMb"],
    reservedCores: config["tuning.reservedCores"],
  };
}

/** `tune()` with the config's tuning.* settings as overrides. */
export function tuneForConfig(facts: HardwareFacts, config: Config, calibration: Calibration | null = null, model: ModelShape | null = null): Tuning {
  return tune(facts, overridesFromConfig(config), calibration, model);
}
