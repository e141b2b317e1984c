/**
 * The longest event-loop stall since the last read, from a timer that notes
 * when it last ran. Unlike perf_hooks' histogram, whose reset() also forgets
 * its last tick, a read here counts the stall still in progress (now minus
 * the last tick): when the reading timer runs first after a block, the block
 * is not lost. That race hid a 3 s block from the watchdog's self-check about
 * one run in ten (test/integration/watchdog.test.ts, failing in CI).
 */
export class EventLoopLag {
  private last: number;
  private maxMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly resolutionMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.last = now();
  }

  start(): void {
    this.last = this.now();
    this.timer = setInterval(() => this.tick(), this.resolutionMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The timer ran: how late it was is a stall. */
  tick(): void {
    const t = this.now();
    this.maxMs = Math.max(this.maxMs, t - this.last - this.resolutionMs);
    this.last = t;
  }

  /** The longest stall since the last read, the one still running included; starts a new window. */
  takeMaxMs(): number {
    const t = this.now();
    const max = Math.max(this.maxMs, t - this.last - this.resolutionMs, 0);
    // Counted up to now: the late tick that follows must not report the same stall again (two failed
    // self-checks restart the node, and one block must stay one failure).
    this.maxMs = 0;
    this.last = t;
    return max;
  }

  /** A new window that does not count what came before (the start-up's own blocking). */
  reset(): void {
    this.maxMs = 0;
    this.last = this.now();
  }
}
