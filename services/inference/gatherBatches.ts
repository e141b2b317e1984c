import type { LlamaContext, LlamaContextSequence } from "node-llama-cpp";

/** What the gatherer saw, for tests and the bench. */
export interface GatherStats {
  /** Decodes that carried only generation steps (at most one token per sequence). */
  generationDecodes: number;
  /** Of those, decodes that carried a token of every sequence that was generating. */
  fullDecodes: number;
  /** Generation decodes by number of tokens (1 → n). */
  sizes: Record<number, number>;
  /** Waits that ended at the cap with a sequence still missing. */
  timeouts: number;
  /** Decodes that carried prompt tokens (an item of more than one token: a prompt, or a speculative draft). */
  promptDecodes: number;
  /** Those decodes by the number of sequences whose prompt tokens they carried (1 → n). */
  promptSequences: Record<number, number>;
  /** Dispatches held for a run that had begun but not yet queued its prompt, and of those, holds that ended at the cap. */
  setupWaits: number;
  setupTimeouts: number;
  /** First dispatches from idle held for users arriving close together (arrivalQuietMs). */
  arrivalWaits: number;
  /** Time spent in prompt decodes, and dispatches from outside the decode loop held for runs setting up or arriving, in ms (where a slow first token went). */
  promptDecodeMs: number;
  dispatchHeldMs: number;
}

export interface GatherOptions {
  /** Longest wait for a generation step's stragglers, in ms (waitCapMs). Defaults to 5. */
  maxWaitMs?: number;
  /** Shortest and longest quiet time after a run begins from idle before its prompt goes (arrivalQuietMs). Default to 0 and 30. */
  arrivalMinMs?: number;
  arrivalMaxMs?: number;
}

/**
 * When to stop waiting for stragglers: every generating sequence has its next
 * step queued, or the wait reached its cap. Pure, for tests.
 */
export function readyToDispatch(queued: number, active: number, waitedMs: number, capMs: number): boolean {
  return queued >= active || waitedMs >= capMs;
}

/**
 * The cap on a wait for stragglers: a fraction of the last decode's duration
 * (a straggler only needs its sampling and a few microtasks, well under a
 * millisecond), so a model whose decode takes 1 ms waits at most 0.25 ms and
 * one whose decode takes 60 ms at most 5 ms.
 */
export function waitCapMs(lastDecodeMs: number, maxMs = 5): number {
  return Math.min(maxMs, Math.max(0.2, lastDecodeMs / 4));
}

/**
 * How long a prompt that starts from idle waits for no further run to begin:
 * a twentieth of the last prompt decode, within [minMs, maxMs]. Requests that
 * come together over HTTP reach the engine 5-25 ms apart (measured here, 4
 * streaming users, in-process engine), and the first one's prompt used to go
 * alone: the other three waited for its whole decode (1.4-2.8 s on the
 * TinyLlama-shaped model), then for their own. A model whose prompt decode
 * takes 10 ms waits at most 0.5 ms.
 *
 * Before the first prompt decode of a context (null: right after a model
 * load, when nothing has been timed) it waits maxMs: the users who arrive
 * together just after a load are the case this wait is for (a node that
 * loads its model on the first request, the bench's first round), and a
 * small model pays the 30 ms once per load.
 */
export function arrivalQuietMs(lastPromptDecodeMs: number | null, minMs = 0, maxMs = 30): number {
  if (lastPromptDecodeMs === null) return maxMs;
  return Math.min(maxMs, Math.max(minMs, lastPromptDecodeMs / 20));
}

/**
 * The cap on holding a decode for a run that has begun but not queued its
 * prompt yet (it tokenizes, renders its template and erases its sequence's
 * old tokens: a few milliseconds, several times that on a 2-core machine
 * at load 10). Twice the last decode, between 50 and 200 ms: on the
 * TinyLlama-shaped model a prompt decode takes seconds and a prompt that
 * misses it waits all that time, while a model whose steps take 1 ms pauses
 * its generating users for at most 50 ms, once per new run, and only when
 * that run is slow to queue.
 */
export function setupCapMs(lastDecodeMs: number, minMs = 50, maxMs = 200): number {
  return Math.min(maxMs, Math.max(minMs, 2 * lastDecodeMs));
}

/** The parts of node-llama-cpp's LlamaContext (3.21.1; private) the gatherer works with. */
interface ContextInternals {
  _queuedDecodes: Array<{ sequenceId: number }>;
  _batchingOptions: { dispatchSchedule: unknown };
  _scheduleDecode(): void;
  _decodeTokens(options: { sequenceId: number; afterBatchAction?: (n: number) => unknown } & Record<string, unknown>, mapper: unknown): Promise<unknown>;
  _ctx: { initBatch(size: number): unknown; decodeBatch(): Promise<unknown>; addToBatch(sequenceId: number, first: number, tokens: Uint32Array, logitIndexes: Uint32Array): unknown };
}

/** node-llama-cpp's id of a sequence (private in 3.21.1, as the ids its queue holds). */
function idOf(sequence: LlamaContextSequence): number {
  return (sequence as unknown as { _sequenceId: number })._sequenceId;
}

/** The engine tells the gatherer which sequences are running a generation. */
export interface BatchGatherer {
  /** A run starts on this sequence. */
  begin(sequence: LlamaContextSequence): void;
  /** The run on this sequence ended. */
  end(sequence: LlamaContextSequence): void;
  readonly stats: GatherStats;
}

/**
 * Makes parallel sequences share their decode steps. node-llama-cpp batches
 * the steps that are queued when a decode starts, and after each decode it
 * starts the next one at once, still holding the context's lock, with
 * whatever is queued by then. Each sequence queues its next step only after
 * its sampling and its generation loop's microtasks, so one regularly missed
 * the batch: with 4 users the batches held 3 tokens and the 4th ran alone
 * (measured: 82 of 86 decodes held 3, and 4 users got no more tokens/s than
 * 1; llama.cpp's CPU kernels for Q4_0 take their faster multi-column path
 * from 4 columns up). The gatherer holds each decode until every sequence
 * that is stepping through a generation has its step queued, for at most
 * waitCapMs of the last decode: at node-llama-cpp's first dispatch
 * (dispatchSchedule) and between the decodes of its dispatch loop (each
 * step's afterBatchAction, which that loop awaits before it looks at the
 * queue again).
 *
 * A run that has begun but queued nothing yet (a new user whose sequence
 * first erases its old tokens, which takes the context's lock) would wait
 * behind a loop that never runs dry, so then the queue is set aside for one
 * event-loop turn: the loop ends, the lock goes to the waiting sequence, and
 * the steps go back and are dispatched with its prompt. A dispatch outside
 * the loop (no lock held) waits for such runs, up to setupCapMs, so users
 * who arrive together have their prompts evaluated in one decode, as
 * llama-server does, instead of the last one waiting behind the others';
 * from idle it also waits for runs still arriving (arrivalQuietMs).
 *
 * Returns null and changes nothing when the context does not have that
 * shape (a node-llama-cpp upgrade): sequences then batch as before.
 */
export function gatherBatches(context: LlamaContext, sequences: number, options: GatherOptions = {}): BatchGatherer | null {
  const { maxWaitMs = 5, arrivalMinMs = 0, arrivalMaxMs = 30 } = options;
  const c = context as unknown as Partial<ContextInternals>;
  if (!Array.isArray(c._queuedDecodes) || typeof c._decodeTokens !== "function" || typeof c._scheduleDecode !== "function"
    || typeof c._batchingOptions !== "object" || !c._batchingOptions
    || typeof c._ctx?.decodeBatch !== "function" || typeof c._ctx.initBatch !== "function" || typeof c._ctx.addToBatch !== "function") return null;
  const internals = c as ContextInternals;
  const queue = internals._queuedDecodes;
  const native = internals._ctx;
  const stats: GatherStats = { generationDecodes: 0, fullDecodes: 0, sizes: {}, timeouts: 0, promptDecodes: 0, promptSequences: {}, setupWaits: 0, setupTimeouts: 0, arrivalWaits: 0, promptDecodeMs: 0, dispatchHeldMs: 0 };
  /** Runs going on, by sequence id: whether the run has queued a step yet. */
  const running = new Map<number, boolean>();
  let lastDecodeMs = 0;
  /** null until the first prompt decode is timed (arrivalQuietMs). */
  let lastPromptDecodeMs: number | null = null;
  let lastBeginAt = 0;
  /** Running sequences that have been in a decode: none means the engine starts from idle. */
  const decoded = new Set<number>();
  let batchTokens = 0;
  /** Sequences with more than one token in the batch being filled. */
  let batchPrompts = new Set<number>();
  let batchId = 0;
  let gathered: { id: number; done: Promise<void> } | null = null;
  /** Steps taken out of the queue so the dispatch loop runs dry and a new run gets the lock (betweenDecodes). */
  const aside: Array<{ sequenceId: number }> = [];

  const stepping = (): number => {
    let n = 0;
    for (const queued of running.values()) if (queued) n++;
    return n;
  };
  const settingUp = (): boolean => {
    for (const queued of running.values()) if (!queued) return true;
    return false;
  };
  const fromIdle = (): boolean => {
    for (const id of running.keys()) if (decoded.has(id)) return false;
    return running.size > 0;
  };

  /**
   * Resolves once every stepping sequence has queued its step (or at waitCapMs)
   * and every run that has begun has queued its prompt (or at setupCapMs);
   * polls between event-loop turns. Waiting for the runs that are setting up
   * puts the prompts of users who arrive together into one decode (measured on
   * the TinyLlama-shaped model, 4 users at once: without it the prompts went
   * 3 + 1 or 2 + 2 into two decodes and the last user's first token came after
   * both, 5.3-5.5 s instead of about 4).
   */
  const waitForStragglers = (forSetup: boolean): Promise<void> =>
    new Promise((resolve) => {
      const start = performance.now();
      const cap = waitCapMs(lastDecodeMs, maxWaitMs);
      const setupCap = setupCapMs(lastDecodeMs);
      const quiet = arrivalQuietMs(lastPromptDecodeMs, arrivalMinMs, arrivalMaxMs);
      let heldForSetup = false;
      let heldForArrivals = false;
      const check = (): void => {
        const now = performance.now();
        const waited = now - start;
        const setup = forSetup && settingUp();
        if (setup && !heldForSetup) {
          heldForSetup = true;
          stats.setupWaits++;
        }
        // From idle, the first prompt waits until no run has begun for `quiet` (at most 4 × quiet), so users who arrive
        // together share it; not once every sequence has a run, as no further one could join this decode.
        const arriving = forSetup && quiet > 0 && waited < 4 * quiet && now - lastBeginAt < quiet && running.size < sequences && fromIdle();
        if (arriving && !heldForArrivals) {
          heldForArrivals = true;
          stats.arrivalWaits++;
        }
        if (!arriving && readyToDispatch(queue.length, stepping(), waited, cap) && (!setup || waited >= setupCap)) {
          if (queue.length < stepping()) stats.timeouts++;
          if (setup) stats.setupTimeouts++;
          if (forSetup) stats.dispatchHeldMs += waited;
          resolve();
        } else setImmediate(check);
      };
      check();
    });

  /**
   * Orders the queued steps by sequence id. With a KV cache per sequence, llama.cpp splits a batch into
   * micro-batches that each take runs of consecutive, increasing sequence ids (llama_batch_allocr::split_equal,
   * `sequential`): 4 users' steps queued as 2, 0, 3, 1 ran as separate graphs, so a 4-token step cost 4 single
   * ones (measured: 142 ms against 35 at 1 thread) and batching gained nothing. Sorted, they run as one.
   */
  const sortQueue = (): void => {
    queue.sort((a, b) => a.sequenceId - b.sequenceId);
  };

  internals._batchingOptions.dispatchSchedule = (dispatch: () => void) => {
    void waitForStragglers(true).then(() => {
      sortQueue();
      dispatch();
    });
  };

  /** Between two decodes of the dispatch loop (its lock held). */
  const betweenDecodes = async (): Promise<void> => {
    if (!settingUp()) {
      if (gathered?.id !== batchId) gathered = { id: batchId, done: waitForStragglers(false) };
      await gathered.done;
      sortQueue();
    }
    // A run that began meanwhile (also during that wait: a user who arrives as another's run ends) may need the
    // lock first. Let the loop run dry so it gets it; the steps return next turn, and their dispatch waits for
    // the new run's prompt (never here: the lock is held here).
    if (settingUp() && queue.length > 0) {
      aside.push(...queue.splice(0));
      setImmediate(restoreAside);
    }
  };
  /** Puts the steps set aside back in front of the queue and schedules their dispatch. */
  const restoreAside = (): void => {
    if (aside.length === 0) return;
    queue.unshift(...aside.splice(0));
    internals._scheduleDecode();
  };

  const decodeTokens = internals._decodeTokens.bind(context);
  Object.defineProperty(context, "_decodeTokens", {
    configurable: true, writable: true,
    value: (options: Parameters<ContextInternals["_decodeTokens"]>[0], mapper: unknown) => {
      if (running.has(options.sequenceId)) running.set(options.sequenceId, true);
      // The last run setting up queues its prompt: the steps set aside go back now, not a turn later, so a
      // dispatch this queueing starts (node-llama-cpp dispatches at once when every sequence has a decode queued) has them.
      if (aside.length > 0 && !settingUp()) queue.unshift(...aside.splice(0));
      const inner = options.afterBatchAction;
      return decodeTokens({
        ...options,
        // Awaited by the dispatch loop after the decode, before it takes the next batch.
        afterBatchAction: async (n: number) => {
          await inner?.(n);
          await betweenDecodes();
        },
      }, mapper);
    },
  });

  const initBatch = native.initBatch.bind(native);
  const decodeBatch = native.decodeBatch.bind(native);
  // The addon's methods are read-only on its prototype; own properties on the instance shadow them (phaseThreads wraps the same ones).
  Object.defineProperty(native, "initBatch", {
    configurable: true, writable: true,
    value: (size: number) => {
      batchTokens = size;
      batchPrompts = new Set();
      return initBatch(size);
    },
  });
  const addToBatch = native.addToBatch.bind(native);
  Object.defineProperty(native, "addToBatch", {
    configurable: true, writable: true,
    value: (sequenceId: number, first: number, tokens: Uint32Array, logitIndexes: Uint32Array) => {
      if (tokens.length > 1) batchPrompts.add(sequenceId);
      decoded.add(sequenceId);
      return addToBatch(sequenceId, first, tokens, logitIndexes);
    },
  });
  Object.defineProperty(native, "decodeBatch", {
    configurable: true, writable: true,
    value: async () => {
      const tokens = batchTokens;
      const prompts = batchPrompts.size;
      const n = stepping();
      const start = performance.now();
      try {
        return await decodeBatch();
      } finally {
        lastDecodeMs = performance.now() - start;
        batchId++;
        if (prompts > 0) {
          lastPromptDecodeMs = lastDecodeMs;
          stats.promptDecodes++;
          stats.promptDecodeMs += lastDecodeMs;
          stats.promptSequences[prompts] = (stats.promptSequences[prompts] ?? 0) + 1;
        }
        if (tokens <= sequences) {
          stats.generationDecodes++;
          stats.sizes[tokens] = (stats.sizes[tokens] ?? 0) + 1;
          if (tokens >= n) stats.fullDecodes++;
        }
      }
    },
  });
  return {
    begin: (sequence) => {
      const id = idOf(sequence);
      running.set(id, false);
      decoded.delete(id);
      lastBeginAt = performance.now();
    },
    end: (sequence) => {
      running.delete(idOf(sequence));
      decoded.delete(idOf(sequence));
    },
    stats,
  };
}
