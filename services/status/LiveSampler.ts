import type { LiveStatsReader, LiveStats } from "./readLiveStats.js";

/**
 * Samples live stats on a timer while someone is looking, so GET /api/status
 * answers from memory (cheap under load) and the SSE channel gets one
 * sample per tick. It stops by itself when nobody has asked for a minute.
 */
export class LiveSampler {
  private timer: NodeJS.Timeout | null = null;
  private latest: LiveStats | null = null;
  private pending: Promise<LiveStats> | null = null;
  private lastDemand = 0;
  private readonly listeners = new Set<(s: LiveStats) => void>();

  constructor(
    private readonly reader: LiveStatsReader,
    /** Milliseconds between samples. Defaults to 2000. */
    private readonly intervalMs = 2000,
    /** Stop sampling after this long without a request or subscriber. Defaults to 60 000. */
    private readonly idleStopMs = 60_000,
  ) {}

  /** The latest sample; the first call after idle waits for one fresh sample. */
  async current(): Promise<LiveStats> {
    this.lastDemand = Date.now();
    this.ensureRunning();
    return this.latest ?? (await this.sample());
  }

  subscribe(listener: (s: LiveStats) => void): () => void {
    this.listeners.add(listener);
    this.lastDemand = Date.now();
    this.ensureRunning();
    return () => this.listeners.delete(listener);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.latest = null;
  }

  private ensureRunning(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
    // Prime the CPU counters so the next tick has a delta to report.
    void this.sample();
  }

  private async tick(): Promise<void> {
    if (this.listeners.size === 0 && Date.now() - this.lastDemand > this.idleStopMs) {
      this.stop();
      return;
    }
    const s = await this.sample();
    for (const l of this.listeners) l(s);
  }

  private sample(): Promise<LiveStats> {
    this.pending ??= this.reader.read().then(
      (s) => {
        this.latest = s;
        this.pending = null;
        return s;
      },
      (err: unknown) => {
        this.pending = null;
        throw err;
      },
    );
    return this.pending;
  }
}
