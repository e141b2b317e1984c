import type { Calibration } from "./Tuning.js";

/** Throughput at one thread count. */
export interface ThreadMeasurement {
  promptTokensPerSecond: number;
  generationTokensPerSecond: number;
}

/** Something that runs real inference at a given thread count (llamaBenchmark.ts for llama.cpp). */
export interface ThreadBenchmark {
  /** Name of the model measured, stored with the calibration. */
  readonly modelName: string;
  measure(threads: number): Promise<ThreadMeasurement>;
  dispose(): Promise<void>;
}

export interface CalibrateOptions {
  /** Runs per thread count; the best run counts (other load only ever slows a run down). Defaults to 2. */
  repeats?: number;
  /** Thread counts to try. Defaults to sweepCandidates(usableCpus). */
  candidates?: number[];
  onProgress?: (threads: number, m: ThreadMeasurement) => void;
  /** Clock for measuredAt (tests pass a fixed one). */
  now?: () => Date;
}

/** 1..usable when that is few; otherwise 1, 2, 3, 4, then every other count up to the usable CPUs. */
export function sweepCandidates(usableCpus: number): number[] {
  const n = Math.max(1, Math.floor(usableCpus));
  if (n <= 8) return Array.from({ length: n }, (_, i) => i + 1);
  const out = [1, 2, 3, 4];
  for (let t = 6; t < n; t += 2) out.push(t);
  out.push(n);
  return [...new Set(out)];
}

/**
 * Sweeps thread counts with real inference and returns the calibration that
 * `tune()` prefers over its heuristics. Counts above the usable CPUs are never tried.
 */
export async function calibrate(bench: ThreadBenchmark, usableCpus: number, options: CalibrateOptions = {}): Promise<Calibration> {
  const repeats = Math.max(1, options.repeats ?? 2);
  const candidates = (options.candidates ?? sweepCandidates(usableCpus)).filter((t) => Number.isInteger(t) && t >= 1 && t <= usableCpus);
  if (candidates.length === 0) throw new Error(`no thread count to try within ${usableCpus} usable CPUs`);
  const sweep: Calibration["sweep"] = [];
  for (const threads of candidates) {
    let best: ThreadMeasurement = { promptTokensPerSecond: 0, generationTokensPerSecond: 0 };
    for (let r = 0; r < repeats; r++) {
      const m = await bench.measure(threads);
      best = {
        promptTokensPerSecond: Math.max(best.promptTokensPerSecond, m.promptTokensPerSecond),
        generationTokensPerSecond: Math.max(best.generationTokensPerSecond, m.generationTokensPerSecond),
      };
    }
    options.onProgress?.(threads, best);
    sweep.push({ threads, promptTokensPerSecond: round(best.promptTokensPerSecond), generationTokensPerSecond: round(best.generationTokensPerSecond) });
  }
  const argmax = (key: "promptTokensPerSecond" | "generationTokensPerSecond"): number =>
    sweep.reduce((a, b) => (b[key] > a[key] ? b : a)).threads;
  return {
    measuredAt: (options.now ?? (() => new Date()))().toISOString(),
    model: bench.modelName,
    sweep,
    bestPromptThreads: argmax("promptTokensPerSecond"),
    bestGenerationThreads: argmax("generationTokensPerSecond"),
    usableCpus,
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
