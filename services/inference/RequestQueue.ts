import { SovereignError } from "../../core/errors/SovereignError.js";

export interface QueueStats {
  /** Requests holding a slot now. */
  active: number;
  /** Requests waiting for one. */
  waiting: number;
  slots: number;
  maxWaiting: number;
  rejected: number;
  timedOut: number;
}

interface Waiter {
  grant: (release: () => void) => void;
  fail: (err: Error) => void;
}

/**
 * A bounded FIFO of generation slots. `slots` requests run at once (the
 * parallel sequences); up to `maxWaiting` more wait; beyond that a request is
 * refused at once with 429 QUEUE_FULL, and a wait longer than `timeoutMs`
 * ends in 503 QUEUE_TIMEOUT. Both carry retryAfterSeconds, estimated from how
 * long slots have been held recently.
 */
export class RequestQueue {
  private active = 0;
  private readonly waiters: Waiter[] = [];
  private rejected = 0;
  private timedOut = 0;
  /** Moving average of how long a slot is held, in ms. */
  private holdMs = 2000;

  constructor(
    private slots: number,
    private maxWaiting: number,
    private readonly timeoutMs: number,
  ) {}

  stats(): QueueStats {
    return { active: this.active, waiting: this.waiters.length, slots: this.slots, maxWaiting: this.maxWaiting, rejected: this.rejected, timedOut: this.timedOut };
  }

  /** Seconds until a slot is likely free for a request arriving now. */
  retryAfterSeconds(): number {
    const ahead = this.waiters.length + 1;
    return Math.max(1, Math.min(600, Math.ceil((this.holdMs * ahead) / this.slots / 1000)));
  }

  /** Resolves with a release function once a slot is free. An aborted wait leaves the queue at once. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    if (this.active < this.slots && this.waiters.length === 0) return Promise.resolve(this.grant());
    if (this.waiters.length >= this.maxWaiting) {
      this.rejected++;
      const retry = this.retryAfterSeconds();
      return Promise.reject(
        new SovereignError("QUEUE_FULL", `All ${this.slots} generation slots are busy and ${this.waiters.length} requests are waiting.`, { details: { retryAfterSeconds: retry } }),
      );
    }
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined = undefined;
      const remove = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        grant: (release) => { remove(); resolve(release); },
        fail: (err) => { remove(); reject(err); },
      };
      const onAbort = () => waiter.fail(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
      timer = setTimeout(() => {
        this.timedOut++;
        waiter.fail(new SovereignError("QUEUE_TIMEOUT", `Waited ${Math.round(this.timeoutMs / 1000)} s for a generation slot.`, { details: { retryAfterSeconds: this.retryAfterSeconds() } }));
      }, this.timeoutMs);
      timer.unref();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private grant(): () => void {
    this.active++;
    const started = Date.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.holdMs = this.holdMs * 0.8 + (Date.now() - started) * 0.2;
      this.pump();
    };
  }

  private pump(): void {
    while (this.active < this.slots && this.waiters.length > 0) {
      const next = this.waiters[0] as Waiter;
      next.grant(this.grant());
    }
  }

  /** Refuses every waiter (shutdown). */
  drain(err: Error): void {
    for (const w of [...this.waiters]) w.fail(err);
  }
}
