import type { HardwareFacts } from "./HardwareFacts.js";
import type { Calibration, Choice, TuningOverrides } from "./Tuning.js";

export interface ThreadChoices {
  reservedCores: Choice<number>;
  promptThreads: Choice<number>;
  generationThreads: Choice<number>;
  engineThreads: Choice<number>;
  /** Cores generation may use after reservations: the ceiling for the generation heuristic. */
  inferenceCores: number;
}

/** A calibration applies only to the CPU set it was measured on. */
export function calibrationApplies(facts: HardwareFacts, c: Calibration | null | undefined): c is Calibration {
  return !!c && c.usableCpus === facts.cpu.usableCpus && c.sweep.length > 0;
}

/*
 * Measured on the 2-vCPU EPYC build VM (issue 19, TinyLlama-shaped Q4_0 and
 * stories260K, node-llama-cpp 3.22 CPU prebuilt, no OpenMP): llama.cpp's
 * threads spin-wait for each other after every graph step, so in generation
 * one preempted thread stalls the rest. 2 generation threads fell from 680 to
 * 8 tokens/s whenever another process wanted the CPU; 1 thread did not
 * collapse and ran at 0.74 of llama-bench's best when quiet. Prompt batches
 * carry far more work per step: at 2 threads they held 59.6 tokens/s under the
 * same contention, and 1 thread gave up 42 % of quiet prompt speed.
 */
const MEASURED_GENERATION = "measured on 2 vCPUs: 2 generation threads fell from 680 to 8 tokens/s whenever another process wanted the CPU, 1 thread did not collapse";
const MEASURED_PROMPT = "measured on 2 vCPUs: prompt batches at 2 threads held 59.6 tokens/s while another process wanted the CPU, and 1 thread gave up 42 % of quiet prompt speed";

/**
 * Thread counts, separately for the two phases. Never more than the usable
 * CPUs (node-llama-cpp's own default, max(4, cores), ran tens of times slower
 * on 2 cores), only the performance cores on big.LITTLE, and a calibration
 * beats the heuristics. Generation keeps a core free for the node (a
 * preempted generation thread stalls the others); prompt processing uses
 * every performance core (it holds up under contention).
 */
export function tuneThreads(facts: HardwareFacts, o: TuningOverrides, calibration: Calibration | null | undefined): ThreadChoices {
  const cpu = facts.cpu;
  const usable = cpu.usableCpus;
  const perf = Math.max(1, Math.min(cpu.performanceCores, usable));
  // Logical CPUs that inference would leave idle anyway: efficiency cores and SMT siblings.
  const slack = usable - perf;

  let reservedCores: Choice<number>;
  if (o.reservedCores != null) reservedCores = override(o.reservedCores, "set in config (kept free of prompt and generation threads)");
  else if (usable <= 1) {
    reservedCores = heuristic(0, "only 1 usable CPU: nothing to keep free, so the event loop shares it with inference (which runs in its own process)");
  } else if (slack >= 1) {
    const where = cpu.efficiencyCores > 0 ? `${cpu.efficiencyCores} efficiency core${cpu.efficiencyCores === 1 ? "" : "s"}` : cpu.smt ? "SMT siblings" : "spare CPUs";
    reservedCores = heuristic(0, `the event loop, HTTP and jobs run on the ${slack} logical CPU${slack === 1 ? "" : "s"} inference leaves free (${where})`);
  } else {
    reservedCores = heuristic(
      1,
      `one of ${usable} cores stays free of generation threads for the event loop, HTTP, embeddings and jobs: llama.cpp's threads wait for each other after every step, so one preempted thread stalls them all (${MEASURED_GENERATION}); prompt batches still use it`,
    );
  }
  // A reservation set in config keeps both phases off those cores; the heuristic one only generation.
  const genCores = Math.max(1, Math.min(perf, usable - reservedCores.value));
  const promptCores = o.reservedCores != null ? genCores : perf;

  const notes: string[] = [];
  if (cpu.efficiencyCores > 0) notes.push(`the ${cpu.efficiencyCores} efficiency cores are left out: each batch waits for its slowest thread`);
  if (cpu.smt) notes.push("SMT siblings add little to matrix math");
  const perfDesc = `${perf} physical ${cpu.efficiencyCores > 0 ? "performance " : ""}core${perf === 1 ? "" : "s"}`;
  const suffix = notes.length > 0 ? ` (${notes.join("; ")})` : "";

  const cal = calibrationApplies(facts, calibration) ? calibration : null;
  const staleNote = calibration && !cal ? `; stored calibration ignored (measured with ${calibration.usableCpus} usable CPUs, now ${usable})` : "";
  const clamp = (n: number, max: number): number => Math.max(1, Math.min(max, Math.round(n)));

  let promptThreads: Choice<number>;
  if (o.promptThreads != null) promptThreads = override(o.promptThreads, overLimit(o.promptThreads, usable));
  else if (cal) promptThreads = calibrated(clamp(cal.bestPromptThreads, usable), `fastest prompt processing in the sweep of ${cal.measuredAt.slice(0, 10)} with ${cal.model}`);
  else {
    const why = promptCores < perf ? `one thread per core of the ${promptCores} left after the ${reservedCores.value} reserved in config` : `one thread per ${perfDesc}${suffix}`;
    promptThreads = heuristic(promptCores, `${why}: prompt batches are compute-bound and hold up when a thread is preempted (${MEASURED_PROMPT})${staleNote}`);
  }

  let generationThreads: Choice<number>;
  if (o.generationThreads != null) generationThreads = override(o.generationThreads, overLimit(o.generationThreads, usable));
  else if (cal) {
    const best = clamp(cal.bestGenerationThreads, usable);
    const g = Math.min(best, genCores);
    generationThreads = calibrated(
      g,
      g === best
        ? `fastest generation in the sweep of ${cal.measuredAt.slice(0, 10)} with ${cal.model}`
        : `the sweep of ${cal.measuredAt.slice(0, 10)} ran fastest at ${best} threads on a quiet machine; ${g} keep${g === 1 ? "s" : ""} off the reserved core, where one preempted thread would stall the rest`,
    );
  } else {
    // Generation streams the weights once per token; past about four cores the memory bus, not arithmetic, sets the pace.
    const g = genCores <= 4 ? genCores : Math.max(4, Math.ceil(genCores * 0.75));
    const of = reservedCores.value > 0 ? ` of the ${genCores} core${genCores === 1 ? "" : "s"} left after the reserved one` : "";
    generationThreads = heuristic(
      g,
      usable === 2 && reservedCores.value === 1 && g === 1
        ? `1 thread to start: alone it gives up about a third of quiet generation speed against 2 (0.74 of llama-bench's best), but holds under contention (${MEASURED_GENERATION}); the engine moves to the prompt count while that is faster and back at the first stalled step (ThreadAdapter)${staleNote}`
        : g === genCores
          ? `${g} thread${g === 1 ? "" : "s"}${of}: generation is memory-bound but ${g} core${g === 1 ? "" : "s"} do not yet saturate the memory bus${staleNote}`
          : `${g} threads${of}: generation is memory-bound and stops scaling before all ${genCores} cores${staleNote}`,
    );
  }

  const ctx = Math.max(promptThreads.value, generationThreads.value);
  const engineThreads = (promptThreads.source === "override" || generationThreads.source === "override" ? override : promptThreads.source === "calibration" ? calibrated : heuristic)(
    ctx,
    promptThreads.value === generationThreads.value
      ? `the llama.cpp context runs ${ctx} thread${ctx === 1 ? "" : "s"} in both phases`
      : `the llama.cpp context is created with ${ctx}; node-llama-cpp sets one count for both phases, so the engine sets it before each decode: ${promptThreads.value} for prompt batches, ${generationThreads.value} for generation steps`,
  );
  return { reservedCores, promptThreads, generationThreads, engineThreads, inferenceCores: genCores };
}

function overLimit(v: number, usable: number): string {
  return v > usable ? `set in config (more than the ${usable} usable CPUs: expect oversubscription)` : "set in config";
}

export function heuristic<T>(value: T, reason: string): Choice<T> {
  return { value, reason, source: "heuristic" };
}
export function override<T>(value: T, reason: string): Choice<T> {
  return { value, reason, source: "override" };
}
function calibrated<T>(value: T, reason: string): Choice<T> {
  return { value, reason, source: "calibration" };
}
