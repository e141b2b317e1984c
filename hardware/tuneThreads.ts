import type { HardwareFacts } from "./HardwareFacts.js";
import type { Calibration, Choice, TuningOverrides } from "./Tuning.js";

/** The expected mix of one chat turn with retrieved context: tokens of prompt and of generation. */
export const EXPECTED_MIX = { promptTokens: 512, generatedTokens: 128 } as const;

export interface ThreadChoices {
  reservedCores: Choice<number>;
  promptThreads: Choice<number>;
  generationThreads: Choice<number>;
  engineThreads: Choice<number>;
  /** Cores inference may use after reservations: the ceiling for every heuristic count. */
  inferenceCores: number;
}

/** A calibration applies only to the CPU set it was measured on. */
export function calibrationApplies(facts: HardwareFacts, c: Calibration | null | undefined): c is Calibration {
  return !!c && c.usableCpus === facts.cpu.usableCpus && c.sweep.length > 0;
}

/**
 * Thread counts. Never more than the usable CPUs (node-llama-cpp's own
 * default, max(4, cores), ran tens of times slower on 2 cores), only the
 * performance cores on big.LITTLE, and a calibration beats the heuristics.
 */
export function tuneThreads(facts: HardwareFacts, o: TuningOverrides, calibration: Calibration | null | undefined): ThreadChoices {
  const cpu = facts.cpu;
  const usable = cpu.usableCpus;
  const perf = Math.max(1, Math.min(cpu.performanceCores, usable));
  // Logical CPUs that inference would leave idle anyway: efficiency cores and SMT siblings.
  const slack = usable - perf;

  let reservedCores: Choice<number>;
  if (o.reservedCores != null) reservedCores = override(o.reservedCores, "set in config");
  else if (usable <= 1) {
    reservedCores = heuristic(0, "only 1 usable CPU: nothing to keep free, so the event loop shares it with inference (which runs off the main thread)");
  } else if (slack >= 1) {
    const where = cpu.efficiencyCores > 0 ? `${cpu.efficiencyCores} efficiency core${cpu.efficiencyCores === 1 ? "" : "s"}` : cpu.smt ? "SMT siblings" : "spare CPUs";
    reservedCores = heuristic(0, `the event loop, HTTP and jobs run on the ${slack} logical CPU${slack === 1 ? "" : "s"} inference leaves free (${where})`);
  } else if (usable === 2) {
    // Measured on a 2-vCPU EPYC (bench/results/inference.json, threadSweep): TinyLlama-shaped Q4_0 generation at
    // 1 thread matched 2 threads with the server quiet and ran 2-30x faster while HTTP was busy; a tiny model 6-100x.
    reservedCores = heuristic(1, "one of 2 cores stays free for the event loop, HTTP and jobs: llama.cpp threads wait for each other, so when the server is busy one preempted thread stalls both (measured: generation as fast on 1 thread as on 2 when quiet, several times faster under HTTP load; prompt processing gives up about half)");
  } else {
    reservedCores = heuristic(1, `one of ${usable} cores stays free for the event loop, HTTP and jobs: llama.cpp threads wait for each other, so one preempted thread stalls them all`);
  }
  const inferenceCores = Math.max(1, Math.min(perf, usable - reservedCores.value));

  const notes: string[] = [];
  if (reservedCores.value > 0 && inferenceCores < perf) notes.push(`less ${perf - inferenceCores} reserved`);
  if (cpu.efficiencyCores > 0) notes.push(`the ${cpu.efficiencyCores} efficiency cores are left out: each batch waits for its slowest thread`);
  if (cpu.smt) notes.push("SMT siblings add little to matrix math");
  const perfDesc = `${perf} physical ${cpu.efficiencyCores > 0 ? "performance " : ""}core${perf === 1 ? "" : "s"}`;
  const suffix = notes.length > 0 ? ` (${notes.join("; ")})` : "";

  const cal = calibrationApplies(facts, calibration) ? calibration : null;
  const staleNote = calibration && !cal ? `; stored calibration ignored (measured with ${calibration.usableCpus} usable CPUs, now ${usable})` : "";
  const clamp = (n: number): number => Math.max(1, Math.min(usable, Math.round(n)));

  let promptThreads: Choice<number>;
  if (o.promptThreads != null) promptThreads = override(o.promptThreads, overLimit(o.promptThreads, usable));
  else if (cal) promptThreads = calibrated(clamp(cal.bestPromptThreads), `fastest prompt processing in the sweep of ${cal.measuredAt.slice(0, 10)} with ${cal.model}`);
  else promptThreads = heuristic(inferenceCores, `prompt processing is compute-bound: one thread per ${perfDesc}${suffix}${staleNote}`);

  let generationThreads: Choice<number>;
  if (o.generationThreads != null) generationThreads = override(o.generationThreads, overLimit(o.generationThreads, usable));
  else if (cal) generationThreads = calibrated(clamp(cal.bestGenerationThreads), `fastest generation in the sweep of ${cal.measuredAt.slice(0, 10)} with ${cal.model}`);
  else {
    // Generation streams the weights once per token; past about four cores the memory bus, not arithmetic, sets the pace.
    const g = inferenceCores <= 4 ? inferenceCores : Math.max(4, Math.ceil(inferenceCores * 0.75));
    generationThreads = heuristic(
      g,
      g === inferenceCores
        ? `generation is memory-bound but ${g} core${g === 1 ? "" : "s"} do not yet saturate the memory bus${staleNote}`
        : `generation is memory-bound and stops scaling before all ${inferenceCores} cores: ${g} threads${staleNote}`,
    );
  }

  let engineThreads: Choice<number>;
  const mix = `${EXPECTED_MIX.promptTokens} prompt + ${EXPECTED_MIX.generatedTokens} generated tokens`;
  if (o.promptThreads != null || o.generationThreads != null) {
    const v = o.promptThreads ?? o.generationThreads ?? 1;
    engineThreads = override(v, `node-llama-cpp takes one count for both phases; following the ${o.promptThreads != null ? "prompt" : "generation"} threads set in config`);
  } else if (cal) {
    const best = bestForMix(cal, usable);
    engineThreads = calibrated(best, `node-llama-cpp takes one count for both phases: ${best} gave the shortest measured time for a turn of ${mix}`);
  } else {
    engineThreads = heuristic(
      promptThreads.value,
      `node-llama-cpp takes one count for both phases: the prompt count, since prompt time falls in proportion to threads while generation loses little from threads past its peak (for a turn of ${mix})`,
    );
  }
  return { reservedCores, promptThreads, generationThreads, engineThreads, inferenceCores };
}

/** The measured thread count that makes one expected turn (prompt + generation) shortest. */
export function bestForMix(c: Calibration, usableCpus: number): number {
  let best = 1;
  let bestTime = Infinity;
  for (const p of c.sweep) {
    if (p.threads < 1 || p.threads > usableCpus || !(p.promptTokensPerSecond > 0) || !(p.generationTokensPerSecond > 0)) continue;
    const t = EXPECTED_MIX.promptTokens / p.promptTokensPerSecond + EXPECTED_MIX.generatedTokens / p.generationTokensPerSecond;
    if (t < bestTime) {
      bestTime = t;
      best = p.threads;
    }
  }
  return best;
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
