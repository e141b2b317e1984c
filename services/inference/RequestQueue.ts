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
  owner: string;
  background: boolean;
  /** Arrival order, the last tie-break. */
  seq: number;
}

export interface AcquireOptions {
  signal?: AbortSignal;
  /** Who asked (a user id or an API key's owner). Waiters are served by owner, round-robin; absent = one shared "anonymous" owner. */
  owner?: string;
  /** A background job (summaries): served only when no interactive request waits. */
  background?: boolean;
}

/**
 * A bounded, fair queue of generation slots. `slots` requests run at once (the
 * parallel sequences). When more wait than slots are free, the next one is
 * chosen by owner, not by arrival: interactive before background, then the
 * owner holding the fewest slots, then the owner served longest ago, then
 * arrival order. So one user's burst of long generations cannot hold back
 * another user's first token by more than one generation per slot.
 * Up to `maxWaiting` more wait; beyond that a request is
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
  private seq = 0;
  /** Slots held now, by owner. */
  private readonly activeBy = new Map<string, number>();
  /** When (grant counter) each owner was last served; entries are dropped when an owner has nothing active or waiting. */
  private readonly servedAt = new Map<string, number>();
  private grants = 0;
  /** Interactive (not background) requests holding a slot. */
  private interactive = 0;
  private readonly idleWaiters = new Set<() => void>();

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

  /** True while any interactive request holds or waits for a slot (background jobs check it between units of work). */
  busy(): boolean {
    return this.interactive > 0 || this.waiters.some((w) => !w.background);
  }

  /** Resolves when no interactive request holds or waits for a slot (at once if none does), or rejects when `signal` aborts. */
  whenIdle(signal?: AbortSignal): Promise<void> {
    if (!this.busy()) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    return new Promise((resolve, reject) => {
      const done = () => {
        this.idleWaiters.delete(done);
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.idleWaiters.delete(done);
        reject(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.idleWaiters.add(done);
    });
  }

  /**
   * Resolves with a release function once a slot is free. An aborted wait
   * leaves the queue at once. Accepts a bare AbortSignal (older callers) or options.
   */
  acquire(opts?: AbortSignal | AcquireOptions): Promise<() => void> {
    const o: AcquireOptions = opts instanceof AbortSignal ? { signal: opts } : (opts ?? {});
    const signal = o.signal;
    const owner = o.owner ?? "";
    const background = o.background === true;
    if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    if (this.active < this.slots && this.waiters.length === 0) return Promise.resolve(this.grant(owner, background));
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
        fail: (err) => { remove(); this.forgetIfGone(owner); reject(err); this.notifyIdle(); },
        owner, background, seq: this.seq++,
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

  private grant(owner: string, background: boolean): () => void {
    this.active++;
    if (!background) this.interactive++;
    this.activeBy.set(owner, (this.activeBy.get(owner) ?? 0) + 1);
    this.servedAt.set(owner, ++this.grants);
    const started = Date.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      if (!background) this.interactive--;
      const left = (this.activeBy.get(owner) ?? 1) - 1;
      if (left > 0) this.activeBy.set(owner, left);
      else this.activeBy.delete(owner);
      this.forgetIfGone(owner);
      this.holdMs = this.holdMs * 0.8 + (Date.now() - started) * 0.2;
      this.pump();
      this.notifyIdle();
    };
  }

  /** The waiter to serve next (see the class comment for the order). */
  private pick(): Waiter | undefined {
    let best: Waiter | undefined;
    let bestKey: number[] = [];
    for (const w of this.waiters) {
      const key = [w.background ? 1 : 0, this.activeBy.get(w.owner) ?? 0, this.servedAt.get(w.owner) ?? 0, w.seq];
      if (!best || compareKeys(key, bestKey) < 0) {
        best = w;
        bestKey = key;
      }
    }
    return best;
  }

  private pump(): void {
    while (this.active < this.slots && this.waiters.length > 0) {
      const next = this.pick() as Waiter;
      next.grant(this.grant(next.owner, next.background));
    }
  }

  private forgetIfGone(owner: string): void {
    if (!this.activeBy.has(owner) && !this.waiters.some((w) => w.owner === owner)) this.servedAt.delete(owner);
  }

  private notifyIdle(): void {
    if (this.busy()) return;
    for (const w of [...this.idleWaiters]) w();
  }

  /** Refuses every waiter (shutdown). */
  drain(err: Error): void {
    for (const w of [...this.waiters]) w.fail(err);
  }
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
