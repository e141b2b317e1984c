import { SovereignError } from "../../core/errors/SovereignError.js";

interface Slot {
  running: number;
  waiting: Array<() => void>;
}

/**
 * At most `concurrency` holders per key, with a short queue behind them;
 * beyond the queue a request is refused at once (429 LOGIN_LOCKED, retry in
 * a second) rather than waiting. Password hashing is bounded per account and
 * per address with it: a burst waits its turn instead of being hashed in parallel.
 */
export class KeyedSemaphore {
  private readonly slots = new Map<string, Slot>();

  constructor(private readonly concurrency: number, private readonly maxQueue: number) {}

  /** Resolves to a release function once the key has a free place; throws when its queue is full. */
  async acquire(key: string): Promise<() => void> {
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { running: 0, waiting: [] };
      this.slots.set(key, slot);
    }
    const s = slot;
    if (s.running < this.concurrency) s.running++;
    else {
      if (s.waiting.length >= this.maxQueue) {
        throw new SovereignError("LOGIN_LOCKED", "Too many login attempts at once; try again in 1 s.", { details: { retryAfterSeconds: 1 } });
      }
      // Woken by a release that hands its place over (running stays as it is), so no newcomer can slip in between.
      await new Promise<void>((resolve) => s.waiting.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = s.waiting.shift();
      if (next) next();
      else if (--s.running === 0) this.slots.delete(key);
    };
  }
}
