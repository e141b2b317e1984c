/**
 * Rate-limits repeated log lines of one kind: the first `perWindow` lines of a
 * key in each window are written, the rest only counted, and the next line
 * written for that key says how many were left out. A flood of refused
 * requests (110,000 made a 65 MB log) then costs a few lines a minute per
 * kind and source, while a new kind of failure is still logged at once.
 */
export class LogSampler {
  private readonly windows = new Map<string, { start: number; written: number; dropped: number }>();

  constructor(
    private readonly perWindow = 5,
    private readonly windowMs = 60_000,
    /** Distinct keys kept; beyond it the table starts afresh, so spoofed variety cannot grow memory. */
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether to write this occurrence of `key`, and how many of its lines were left out since the last one written. */
  take(key: string): { write: boolean; suppressed: number } {
    const t = this.now();
    let w = this.windows.get(key);
    if (w && t - w.start >= this.windowMs) {
      // A new window: the count of what was left out rides on its first line.
      const suppressed = w.dropped;
      w.start = t;
      w.written = 1;
      w.dropped = 0;
      return { write: true, suppressed };
    }
    if (!w) {
      if (this.windows.size >= this.maxKeys) this.windows.clear();
      w = { start: t, written: 0, dropped: 0 };
      this.windows.set(key, w);
    }
    if (w.written < this.perWindow) {
      w.written++;
      return { write: true, suppressed: 0 };
    }
    w.dropped++;
    return { write: false, suppressed: 0 };
  }
}
