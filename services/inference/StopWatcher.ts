/**
 * Ends a generation at the first stop string, or where a JSON object closes,
 * watching the text as the tokenizer joins it (node-llama-cpp's onTextChunk).
 *
 * Why not node-llama-cpp's customStopTriggers: its detector reads each token
 * detokenized alone, and a SentencePiece token detokenized alone loses its
 * leading space ("▁b" gives "b"), so a stop string with a space in it never
 * matched. Here the text is the one the client receives, so any stop string
 * matches whatever it contains.
 *
 * Text that could be the start of a stop string is held back until it is
 * known not to be one, so a stop string is never streamed.
 */
export class StopWatcher {
  private text = "";
  private emitted = 0;
  /** Set once a stop string was found or the JSON object closed. */
  matched = false;
  private depth = 0;
  private inString = false;
  private escaped = false;

  /**
   * @param stops stop strings (not included in the text)
   * @param jsonObject end where the top-level JSON object closes
   * @param emit receives the text to pass on
   * @param end called once when generation should end
   */
  constructor(
    private readonly stops: readonly string[],
    private readonly jsonObject: boolean,
    private readonly emit: ((text: string) => void) | undefined,
    private readonly end: () => void,
  ) {}

  push(chunk: string): void {
    if (this.matched || chunk.length === 0) return;
    const from = this.text.length;
    this.text += chunk;
    let cut = -1;
    for (const s of this.stops) {
      const i = this.text.indexOf(s, Math.max(0, from - s.length + 1));
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (this.jsonObject) {
      const j = this.objectEnd(from, cut < 0 ? this.text.length : cut);
      if (j >= 0) cut = j;
    }
    if (cut >= 0) {
      this.matched = true;
      this.flush(cut);
      this.text = this.text.slice(0, cut);
      this.end();
      return;
    }
    let hold = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.text.length); k > hold; k--) {
        if (this.text.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    this.flush(this.text.length - hold);
  }

  /** Passes on what was held back (nothing matched) and returns the whole text. */
  finish(): string {
    if (!this.matched) this.flush(this.text.length);
    return this.text.slice(0, this.emitted);
  }

  private flush(upTo: number): void {
    if (upTo <= this.emitted) return;
    this.emit?.(this.text.slice(this.emitted, upTo));
    this.emitted = upTo;
  }

  /** Scans text[from, to) and returns the index just after the top-level object's closing brace, or −1. */
  private objectEnd(from: number, to: number): number {
    for (let i = from; i < to; i++) {
      const c = this.text[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === "\\") this.escaped = true;
        else if (c === '"') this.inString = false;
      } else if (c === '"') this.inString = true;
      else if (c === "{" || c === "[") this.depth++;
      else if (c === "}" || c === "]") {
        this.depth--;
        if (this.depth === 0) return i + 1;
      }
    }
    return -1;
  }
}
