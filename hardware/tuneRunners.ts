import type { HardwareFacts } from "./HardwareFacts.js";
import type { Choice, ModelShape, TuningOverrides } from "./Tuning.js";
import { heuristic, override } from "./tuneThreads.js";

export interface RunnerChoices {
  runners: Choice<number>;
  runnerMemoryMaxMb: Choice<number>;
}

/**
 * Runner processes for the chat model and the memory cap of each. One runner
 * by default: its sequences share every decode step (continuous batching),
 * which runners on the same cores cannot, and a second would hold its own KV
 * cache and compute buffers. The cap is the model RAM budget shared among them.
 */
export function tuneRunners(facts: HardwareFacts, o: TuningOverrides, budgetMb: number): RunnerChoices {
  const runners =
    o.runners != null
      ? override(o.runners, "set in config")
      : heuristic(
          1,
          facts.gpu.usable
            ? "one runner owns the GPU: its sequences share each batch, and a second would need a second copy of the offloaded layers in GPU memory"
            : "one runner: its sequences share each decode step, which runners competing for the same cores cannot, and a second would hold its own KV cache and compute buffers; a crash costs the requests in flight and the runner is restarted",
        );
  const n = Math.max(1, runners.value);
  const per = Math.max(64, Math.floor(budgetMb / n));
  const runnerMemoryMaxMb = heuristic(
    per,
    `${n === 1 ? "the" : `1/${n} of the`} ${budgetMb} MiB model budget: the weights, KV cache and compute buffers live in the runner, so a model that needs more fails there (its runner is killed), never in the node`,
  );
  return { runners, runnerMemoryMaxMb };
}

/** GPU backend and offloaded layers: only what the engine can really do here. */
export function tuneGpu(facts: HardwareFacts, o: TuningOverrides, model: ModelShape | null): { gpuBackend: Choice<"cuda" | "vulkan" | "cpu">; gpuLayers: Choice<number> } {
  const g = facts.gpu;
  const name = g.name ?? g.kind;
  const backend = g.usable && g.backend ? g.backend : null;
  const gpuBackend: Choice<"cuda" | "vulkan" | "cpu"> = backend
    ? heuristic(backend, `${g.note ?? `node-llama-cpp's ${backend} build loads here`}: ${name}`)
    : heuristic("cpu", g.kind === "none" ? "no GPU found: llama.cpp runs on the CPU" : `llama.cpp runs on the CPU: ${g.note ?? "the GPU is not usable"}`);

  let gpuLayers: Choice<number>;
  if (!backend) {
    gpuLayers = heuristic(
      0,
      o.gpuLayers != null && o.gpuLayers > 0
        ? `tuning.gpuLayers=${o.gpuLayers} is set in config, but no GPU backend loads here, so every layer stays on the CPU`
        : g.kind === "none"
          ? "no GPU found: every layer on the CPU"
          : `every layer on the CPU: no GPU build of llama.cpp loads here for the ${g.kind} GPU (gpuBackend says why)`,
    );
  } else if (o.gpuLayers != null) gpuLayers = override(o.gpuLayers, "set in config");
  else
    gpuLayers = model
      ? heuristic(model.layers + 1, `every layer of the model (${model.layers} + output) on the GPU through node-llama-cpp's ${backend} build: ${name}`)
      : heuristic(999, `every layer on the GPU through node-llama-cpp's ${backend} build (llama.cpp caps it at the model's count): ${name}`);
  return { gpuBackend, gpuLayers };
}
