/**
 * A generation's text on its way from the runner to the node, sent at most
 * once per `intervalMs`: the first piece at once (time to first token is
 * untouched), later ones gathered until the interval since the last send is
 * over. Each message costs the node an IPC read and an SSE write, and the
 * client a read, on the cores llama.cpp's threads are waiting on each other:
 * at 2 threads on 2 cores a per-token message stalls a decode step.
 * An interval of 0 sends every piece as it comes.
 */
export class TextCoalescer {
  private buffered = "";
  private timer: NodeJS.Timeout | null = null;
  private lastSent = -Infinity;

  constructor(
    private readonly send: (text: string) => void,
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  push(text: string): void {
    if (this.intervalMs <= 0) return this.send(text);
    this.buffered += text;
    if (this.timer) return;
    const wait = this.lastSent + this.intervalMs - this.now();
    if (wait <= 0) return this.flush();
    this.timer = setTimeout(() => this.flush(), wait);
  }

  /** Sends what is gathered now: before anything that must come after the text (a tool call, the result). */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.buffered) return;
    const text = this.buffered;
    this.buffered = "";
    this.lastSent = this.now();
    this.send(text);
  }
}
