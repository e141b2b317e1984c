import { performance } from "node:perf_hooks";

/**
 * Counts generated tokens where llama.cpp hands them over and times the first to the last one.
 * Timing it here, not where text reaches the caller, keeps tokens/s right when the text arrives in one
 * late chunk (a stop-string hold, a partial UTF-8 character) or several tokens land within the same millisecond.
 */
export class TokenCounter {
  count = 0;
  private first: number | null = null;
  private last: number | null = null;

  readonly onToken = (tokens: readonly unknown[]): void => {
    if (tokens.length === 0) return;
    const now = performance.now();
    this.first ??= now;
    this.last = now;
    this.count += tokens.length;
  };

  /** Milliseconds from the first token's arrival to the last one's; null before two arrivals. */
  get firstToLastMs(): number | null {
    return this.first !== null && this.last !== null && this.last > this.first ? this.last - this.first : null;
  }
}
