/**
 * Picks the generation thread count while the engine runs, from its own
 * decode timings (issue 19). llama.cpp's threads wait for each other after
 * every graph step, so when another process takes a core, a generation step
 * at 2 threads can take 10-80× longer than at 1 (measured: stories260K fell
 * from 680 to 8 tokens/s), while on a quiet machine 2 threads are about a
 * third faster. So: run at the faster count while it is faster, drop to the
 * lower one as soon as steps there get slower than the lower count's, and
 * probe back up now and then.
 *
 * Pure: it sees (threads, tokens in the batch, milliseconds) samples and
 * answers the count for the next generation step; no clock of its own
 * (probes are counted in decodes), so tests feed recorded timings.
 */
/** The longest gap between probes, in multiples of probeEvery. */
const MAX_BACKOFF = 4;
/**
 * A window not fed for this many multiples of probeEvery counts as unknown. Generous on purpose: a stale window
 * only sets the stall threshold and the bar the other count must beat, and at 4x a 4-user window went stale
 * between two turns of bench llamaRef (1, 2, then 4 users: 381 steps apart) and was measured again each time.
 */
const STALE_AFTER = 16;

export interface ThreadAdapterOptions {
  /** The fewest threads (the safe count tune() chose). */
  low: number;
  /** The most threads to try (tune()'s prompt count: the cores that compute-bound work uses). */
  high: number;
  /** Decodes per measurement window (default 8). */
  window?: number;
  /** Decodes at the low count between probes of the high one (default 96). */
  probeEvery?: number;
  /** The high count must be this much faster per token to stay (default 1.05: 5 %). */
  margin?: number;
}

export interface ThreadDecision {
  threads: number;
  /** Why the last switch happened (for logs and tests). */
  reason: string;
}

interface Window {
  msPerToken: number[];
  /** The adapter's step count at the last sample: a window not fed for a while describes another load. */
  at: number;
}

export class ThreadAdapter {
  private readonly low: number;
  private readonly high: number;
  private readonly window: number;
  private readonly probeEvery: number;
  private readonly margin: number;
  private current: number;
  private reason = "start at the low (safe) count";
  /** Decodes between probes now: doubles after each probe that stalled, back to probeEvery after one that won. */
  private interval: number;
  private probed = false;
  /** Recent per-token times by thread count and batch size (a window each): a batch of 4 costs less per token than 1. */
  private readonly samples = new Map<string, Window>();
  /** Tokens in the last generation step: timings are compared at that batch size. */
  private tokens = 1;
  private sinceProbe = 0;
  /** Generation steps recorded so far. */
  private steps = 0;
  /** Switches so far, for stats. */
  switches = 0;

  constructor(o: ThreadAdapterOptions) {
    this.low = Math.max(1, Math.min(o.low, o.high));
    this.high = Math.max(this.low, o.high);
    this.window = o.window ?? 8;
    this.probeEvery = o.probeEvery ?? 96;
    this.margin = o.margin ?? 1.05;
    this.current = this.low;
    this.interval = this.probeEvery;
  }

  /** The count for the next generation step. */
  get threads(): number {
    return this.current;
  }

  get decision(): ThreadDecision {
    return { threads: this.current, reason: this.reason };
  }

  /**
   * A prompt decode starts: a request begins (or another user joins). At the low count, with at least half a probe
   * interval there since the last switch, the next step probes the high count instead of waiting out a backed-off
   * interval: contention that ended while the node was idle is seen in no other way. bench llamaRef runs its users
   * part after the contention part, and the first 1-user request then ran 87 of its 127 steps at 1 thread.
   * Under lasting contention this costs one probe per request (2 stalled steps, or a window of slower ones).
   */
  newRun(): void {
    if (this.low === this.high || this.current !== this.low || !this.probed) return;
    if (this.sinceProbe >= this.probeEvery / 2) this.sinceProbe = Math.max(this.sinceProbe, this.interval);
  }

  /** A generation step took `ms` for `tokens` tokens (one per sequence) at `threads`. */
  record(threads: number, tokens: number, ms: number): void {
    if (this.low === this.high || tokens < 1 || !(ms > 0)) return;
    this.tokens = tokens;
    const key = `${threads}/${tokens}`;
    this.steps++;
    const w = this.samples.get(key) ?? { msPerToken: [], at: 0 };
    w.at = this.steps;
    w.msPerToken.push(ms / tokens);
    if (w.msPerToken.length > this.window) w.msPerToken.shift();
    this.samples.set(key, w);
    if (threads !== this.current) return;
    if (this.current === this.high) this.atHigh();
    else this.atLow();
  }

  private median(threads: number, tokens = this.tokens): number | null {
    const w = this.fresh(threads, tokens);
    if (!w) return null;
    const s = [...w.msPerToken].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)] ?? null;
  }

  /**
   * The full window at this count and the current batch size, unless it was last fed more than
   * STALE_AFTER × probeEvery steps ago.
   */
  private fresh(threads: number, tokens = this.tokens): Window | null {
    const w = this.samples.get(`${threads}/${tokens}`);
    if (!w || w.msPerToken.length < this.window || this.steps - w.at > this.probeEvery * STALE_AFTER) return null;
    return w;
  }

  /** Whether fresh windows at a smaller batch size show the high count faster by the margin. */
  private highWonAtFewerTokens(): boolean {
    for (let tokens = 1; tokens < this.tokens; tokens++) {
      const low = this.median(this.low, tokens);
      const high = this.median(this.high, tokens);
      if (low !== null && high !== null && high * this.margin <= low) return true;
    }
    return false;
  }

  private last(threads: number, n: number): number[] {
    return this.samples.get(`${threads}/${this.tokens}`)?.msPerToken.slice(-n) ?? [];
  }

  private switchTo(threads: number, reason: string, forget: number[] = []): void {
    this.current = threads;
    this.reason = reason;
    this.switches++;
    this.sinceProbe = 0;
    // A fresh window at the new count for this batch size (its old timings were taken under other conditions), and
    // at every size for a count the caller distrusts. Other sizes keep theirs while fresh(): when 1 and then 4 users
    // take turns, the low count is not measured again at each turn (8 slow steps each time, 3-4 % of a 4-user run).
    this.samples.delete(`${threads}/${this.tokens}`);
    for (const key of [...this.samples.keys()]) if (forget.some((t) => key.startsWith(`${t}/`))) this.samples.delete(key);
  }

  private atHigh(): void {
    const lowMs = this.median(this.low);
    // Stall: the last 2 steps each slower than 3× the low count's steps (or, before any is known, the high count's best).
    // Two, not one: a single slow step happens on a quiet machine too, and dropping on it (with the back-off below)
    // kept whole 127-token runs at 1 thread in bench llamaRef (2 users: 27.9 tok/s against 42.3 at 2 threads).
    const ref = lowMs ?? this.best(this.high);
    const recent = this.last(this.high, 2);
    if (ref !== null && recent.length === 2 && recent.every((ms) => ms > 3 * ref)) {
      // A probe that stalls waits twice as long for the next one (at most maxBackoff×); the high count's window is
      // forgotten, so coming back up takes a probe, not its quiet past.
      this.backOff();
      this.switchTo(this.low, `${this.high} threads stalled (${recent.map((m) => m.toFixed(1)).join(", ")} ms/token against ${ref.toFixed(1)})`, [this.high]);
      return;
    }
    const highMs = this.median(this.high);
    if (highMs === null) return;
    if (lowMs === null) {
      // Nothing known at the low count for this batch size. When the high count already won at a smaller batch, it
      // wins here too (more tokens per step is more work to share out), so stay; otherwise measure it once. Those 8
      // steps at 1 thread cost a family's first 4-user turn 4 % of its tokens/s (bench llamaRef, round 1).
      if (!this.highWonAtFewerTokens()) this.switchTo(this.low, "measuring the low count");
      return;
    }
    if (highMs * this.margin > lowMs) {
      // A lost probe costs a window of slower steps: under lasting contention they come further apart too.
      this.backOff();
      this.switchTo(this.low, `${this.high} threads ${highMs.toFixed(1)} ms/token, not faster than ${this.low} at ${lowMs.toFixed(1)}`);
    } else this.interval = this.probeEvery;
  }

  private atLow(): void {
    this.sinceProbe++;
    const lowMs = this.median(this.low);
    const highMs = this.median(this.high);
    if (lowMs === null) return;
    // Right after measuring: go back up when the high count was faster.
    if (highMs !== null && highMs * this.margin <= lowMs && this.sinceProbe <= this.window) {
      this.switchTo(this.high, `${this.high} threads faster (${highMs.toFixed(1)} against ${lowMs.toFixed(1)} ms/token)`);
      return;
    }
    if (!this.probed || this.sinceProbe >= this.interval) {
      this.probed = true;
      this.switchTo(this.high, `probing ${this.high} threads`);
    }
  }

  /**
   * The gap to the next probe doubles, up to MAX_BACKOFF × probeEvery: with the persistent thread pool a lost
   * probe costs little (a stalled one ends after 1 step, a slower one after a window), and a longer gap kept
   * generation at 1 thread for up to 1,500 steps after the other process had gone (bench llamaRef's contention part).
   */
  private backOff(): void {
    this.interval = Math.min(this.probeEvery * MAX_BACKOFF, this.interval * 2);
  }

  private best(threads: number): number | null {
    const w = this.fresh(threads);
    if (!w) return null;
    return Math.min(...w.msPerToken.slice(0, -2));
  }
}
