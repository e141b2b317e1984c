import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TextCoalescer } from "../../services/inference/runner/TextCoalescer.js";

describe("TextCoalescer", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const make = (intervalMs: number) => {
    const sent: { at: number; text: string }[] = [];
    const c = new TextCoalescer((text) => sent.push({ at: Date.now(), text }), intervalMs, () => Date.now());
    return { c, sent };
  };

  it("sends the first piece at once, then gathers pieces until the interval since the last send is over", () => {
    const { c, sent } = make(50);
    const t0 = Date.now();
    c.push("Once");
    expect(sent).toEqual([{ at: t0, text: "Once" }]);
    vi.advanceTimersByTime(20);
    c.push(" upon");
    vi.advanceTimersByTime(20);
    c.push(" a");
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(10);
    expect(sent).toEqual([{ at: t0, text: "Once" }, { at: t0 + 50, text: " upon a" }]);
    // Quiet for longer than the interval: the next piece goes at once again.
    vi.advanceTimersByTime(200);
    c.push(" time");
    expect(sent.at(-1)).toEqual({ at: t0 + 250, text: " time" });
  });

  it("a slow model's pieces are never held back: each comes after more than the interval", () => {
    const { c, sent } = make(50);
    for (const word of ["a", "b", "c"]) {
      c.push(word);
      vi.advanceTimersByTime(1000);
    }
    expect(sent.map((s) => s.text)).toEqual(["a", "b", "c"]);
  });

  it("flush sends what is gathered at once, keeps the order, and sends nothing when nothing is gathered", () => {
    const { c, sent } = make(50);
    c.push("x");
    c.push("y");
    c.push("z");
    c.flush();
    expect(sent.map((s) => s.text)).toEqual(["x", "yz"]);
    c.flush();
    vi.advanceTimersByTime(100);
    expect(sent).toHaveLength(2);
  });

  it("an interval of 0 sends every piece as it comes", () => {
    const { c, sent } = make(0);
    c.push("a");
    c.push("b");
    expect(sent.map((s) => s.text)).toEqual(["a", "b"]);
  });
});
