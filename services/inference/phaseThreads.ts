import type { LlamaContext } from "node-llama-cpp";
import type { ThreadAdapter } from "./threadAdapter.js";

/** Thread counts for the two phases of llama.cpp evaluation. */
export interface PhaseThreads {
  /** Threads for a batch that carries prompt tokens. */
  prompt: number;
  /** Threads for a generation step: at most one token per sequence. */
  generation: number;
}

/** What the switch did, for tests and stats. */
export interface PhaseThreadStats {
  promptDecodes: number;
  generationDecodes: number;
  /** The count handed to llama.cpp for the last decode. */
  lastThreads: number | null;
  /** Generation steps by the thread count they ran at (with an adapter the count moves). */
  generationByThreads: Record<number, number>;
  /** Milliseconds inside generation decodes (llama.cpp's own time; the rest of a step is sampling and our code). */
  generationDecodeMs: number;
  /**
   * Milliseconds between the end of a generation decode and the start of the next one, when nothing else was
   * decoded in between: sampling, detokenizing, streaming and dispatch, the part of a step outside llama.cpp.
   */
  generationGapMs: number;
  /** How many such gaps generationGapMs sums. */
  generationGaps: number;
}

/** The part of node-llama-cpp's native context (private `_ctx`, in 3.21 and 3.22) the switch wraps. */
interface NativeContext {
  initBatch(size: number): unknown;
  setThreads(threads: number): unknown;
  decodeBatch(): Promise<unknown>;
}

/**
 * Gives each phase its own thread count. llama.cpp keeps separate counts for
 * generation and batches, but node-llama-cpp (3.21.1, as 3.22) sets one value for both
 * (AddonContext: n_threads_batch = n_threads, also in setThreads) and has no
 * option for a second one. Its decode loop calls, in order, `initBatch(n)`,
 * `setThreads(allocated)` and `decodeBatch()` on the native context, so this
 * wraps those three: a batch with more tokens than sequences holds prompt
 * tokens and runs at `prompt` threads, anything else at `generation`, never
 * above what node-llama-cpp's thread splitter allocated. Returns null (and
 * changes nothing) when the native context does not have that shape, e.g.
 * after a node-llama-cpp upgrade: the caller then runs one count for both.
 *
 * With an `adapter`, generation steps run at the count it picks, and each
 * step's duration goes back to it (see ThreadAdapter): `threads.generation`
 * is then unused.
 */
export function applyPhaseThreads(context: LlamaContext, threads: PhaseThreads, sequences: number, adapter?: ThreadAdapter): PhaseThreadStats | null {
  const native = (context as unknown as { _ctx?: Partial<NativeContext> })._ctx;
  if (!native || typeof native.initBatch !== "function" || typeof native.setThreads !== "function" || typeof native.decodeBatch !== "function") return null;
  const initBatch = native.initBatch.bind(native);
  const setThreads = native.setThreads.bind(native);
  const decodeBatch = native.decodeBatch.bind(native);
  const stats: PhaseThreadStats = { promptDecodes: 0, generationDecodes: 0, lastThreads: null, generationByThreads: {}, generationDecodeMs: 0, generationGapMs: 0, generationGaps: 0 };
  // When the last generation decode ended (null after a prompt decode, which breaks the run of steps).
  let lastGenerationEnd: number | null = null;
  let batchTokens = 0;
  let allocated = Math.max(threads.prompt, threads.generation);
  // The addon's methods are read-only on its prototype; own properties on the instance shadow them.
  const wrap = (name: keyof NativeContext, fn: (...args: never[]) => unknown): void => {
    Object.defineProperty(native, name, { value: fn, configurable: true, writable: true });
  };
  wrap("initBatch", (size: number) => {
    batchTokens = size;
    return initBatch(size);
  });
  wrap("setThreads", (n: number) => {
    // 0 means "all the hardware has" to llama.cpp; node-llama-cpp never passes it with maxThreads set.
    allocated = n > 0 ? n : allocated;
  });
  wrap("decodeBatch", () => {
    const prompt = batchTokens > sequences;
    const tokens = batchTokens;
    const n = Math.max(1, Math.min(allocated, prompt ? threads.prompt : adapter?.threads ?? threads.generation));
    if (prompt) stats.promptDecodes++;
    else {
      stats.generationDecodes++;
      stats.generationByThreads[n] = (stats.generationByThreads[n] ?? 0) + 1;
    }
    stats.lastThreads = n;
    setThreads(n);
    if (prompt) {
      lastGenerationEnd = null;
      adapter?.newRun();
      return decodeBatch();
    }
    const start = performance.now();
    if (lastGenerationEnd !== null) {
      stats.generationGapMs += start - lastGenerationEnd;
      stats.generationGaps++;
    }
    return decodeBatch().then((r) => {
      lastGenerationEnd = performance.now();
      const ms = lastGenerationEnd - start;
      stats.generationDecodeMs += ms;
      adapter?.record(n, tokens, ms);
      return r;
    });
  });
  return stats;
}
