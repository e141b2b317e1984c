import { SovereignError } from "./errors/SovereignError.js";

export type CircuitState = "closed" | "open" | "half-open";

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Defaults to 5. */
  failureThreshold?: number;
  /** How long an open circuit rejects calls before letting one trial through, in ms. Defaults to 30 000. */
  cooldownMs?: number;
  /** A call slower than this counts as failed and its promise is abandoned, in ms (0: no limit). Defaults to 0. */
  timeoutMs?: number;
  /** Whether an error counts against the remote (e.g. a 4xx from a peer may not). Defaults to every error. */
  isFailure?: (err: unknown) => boolean;
  /** Injected clock for tests. Defaults to Date.now. */
  now?: () => number;
}

export interface CircuitSnapshot {
  name: string;
  state: CircuitState;
  consecutiveFailures: number;
  successes: number;
  failures: number;
  /** Calls refused without being tried because the circuit was open. */
  rejections: number;
  /** When an open circuit lets the next trial through (epoch ms), or null. */
  retryAt: number | null;
}

/** The error an open circuit throws instead of calling the remote. */
export class CircuitOpenError extends SovereignError {
  constructor(readonly breaker: string, readonly retryAfterMs: number) {
    super("CIRCUIT_OPEN", `Calls to ${breaker} are paused after repeated failures; next try in ${Math.ceil(retryAfterMs / 1000)} s.`, {
      details: { breaker, retryAfterSeconds: Math.ceil(retryAfterMs / 1000) },
    });
    this.name = "CircuitOpenError";
  }
}

/** The error a call slower than `timeoutMs` ends with. */
export class CircuitTimeoutError extends Error {
  constructor(readonly breaker: string, readonly timeoutMs: number) {
    super(`call to ${breaker} took longer than ${timeoutMs} ms`);
    this.name = "CircuitTimeoutError";
  }
}

/**
 * Closed → (threshold consecutive failures) → open → (cooldown) → half-open:
 * one trial call; success closes, failure opens again. Keeps a dead peer or
 * mirror from tying up sockets, threads and the user's patience.
 */
export class CircuitBreaker {
  private stateValue: CircuitState = "closed";
  private consecutive = 0;
  private openedAt = 0;
  private trialInFlight = false;
  private counts = { successes: 0, failures: 0, rejections: 0 };
  private readonly threshold: number;
  private readonly cooldownMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(readonly name: string, private readonly options: CircuitBreakerOptions = {}) {
    this.threshold = Math.max(1, options.failureThreshold ?? 5);
    this.cooldownMs = Math.max(0, options.cooldownMs ?? 30_000);
    this.timeoutMs = Math.max(0, options.timeoutMs ?? 0);
    this.now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    if (this.stateValue === "open" && this.now() - this.openedAt >= this.cooldownMs) return "half-open";
    return this.stateValue;
  }

  /** Runs `fn` unless the circuit is open; its outcome moves the state. */
  async call<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const state = this.state;
    if (state === "open" || (state === "half-open" && this.trialInFlight)) {
      this.counts.rejections++;
      throw new CircuitOpenError(this.name, Math.max(0, this.openedAt + this.cooldownMs - this.now()));
    }
    const trial = state === "half-open";
    if (trial) this.trialInFlight = true;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      const work = fn(controller.signal);
      const result =
        this.timeoutMs > 0
          ? await Promise.race([
              work,
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => {
                  // Reject first: aborting may settle `work` synchronously.
                  reject(new CircuitTimeoutError(this.name, this.timeoutMs));
                  controller.abort();
                }, this.timeoutMs);
              }),
            ])
          : await work;
      this.onSuccess();
      return result;
    } catch (err) {
      if (err instanceof CircuitTimeoutError || (this.options.isFailure?.(err) ?? true)) this.onFailure();
      else this.onSuccess();
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
      if (trial) this.trialInFlight = false;
    }
  }

  /** Forgets failures (e.g. after a user re-approves a peer). */
  reset(): void {
    this.stateValue = "closed";
    this.consecutive = 0;
  }

  snapshot(): CircuitSnapshot {
    const state = this.state;
    return {
      name: this.name,
      state,
      consecutiveFailures: this.consecutive,
      ...this.counts,
      retryAt: state === "open" ? this.openedAt + this.cooldownMs : null,
    };
  }

  private onSuccess(): void {
    this.counts.successes++;
    this.consecutive = 0;
    this.stateValue = "closed";
  }

  private onFailure(): void {
    this.counts.failures++;
    this.consecutive++;
    if (this.stateValue !== "closed" || this.consecutive >= this.threshold) {
      this.stateValue = "open";
      this.openedAt = this.now();
    }
  }
}

/** Named breakers shared across a process, so metrics can list them. */
export class CircuitBreakerRegistry {
  private readonly breakers = new Map<string, CircuitBreaker>();

  /** The breaker for `name`, made with `options` on first use. */
  get(name: string, options?: CircuitBreakerOptions): CircuitBreaker {
    let b = this.breakers.get(name);
    if (!b) {
      b = new CircuitBreaker(name, options);
      this.breakers.set(name, b);
    }
    return b;
  }

  delete(name: string): void {
    this.breakers.delete(name);
  }

  snapshot(): CircuitSnapshot[] {
    return [...this.breakers.values()].map((b) => b.snapshot());
  }
}

/** The process-wide registry (inference pulls use "pull:<host>", federation "peer:<nodeId>"). */
export const breakers = new CircuitBreakerRegistry();
