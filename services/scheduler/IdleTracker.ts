/**
 * When the node was last used. Services poke it (`markActivity()`); jobs that
 * must not compete with users ("only when idle") ask how long it has been quiet.
 */
export class IdleTracker {
  private last: number;

  constructor(private readonly now: () => number = Date.now) {
    this.last = now();
  }

  markActivity(): void {
    this.last = this.now();
  }

  lastActivityAt(): number {
    return this.last;
  }

  idleForMs(): number {
    return Math.max(0, this.now() - this.last);
  }
}
