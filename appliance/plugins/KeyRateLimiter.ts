/**
 * A fixed one-minute window per caller. Small and exact enough for a LAN
 * appliance; counters for idle callers are dropped as windows roll over.
 */
export class KeyRateLimiter {
  private window = 0;
  private counts = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one request; returns the seconds to wait when it is over the limit, or 0. */
  hit(key: string): number {
    const t = this.now();
    const w = Math.floor(t / this.windowMs);
    if (w !== this.window) {
      this.window = w;
      this.counts = new Map();
    }
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    if (n <= this.max) return 0;
    return Math.max(1, Math.ceil(((w + 1) * this.windowMs - t) / 1000));
  }
}
