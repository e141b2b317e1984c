import { describe, expect, it } from "vitest";
import { TokenCounter } from "../../services/inference/tokenCounter.js";

const waitMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("TokenCounter", () => {
  it("counts every token handed over and times the first arrival to the last", async () => {
    const c = new TokenCounter();
    expect(c.firstToLastMs).toBeNull();
    c.onToken([1]);
    expect(c.firstToLastMs).toBeNull();
    await waitMs(5);
    c.onToken([2, 3]);
    c.onToken([]);
    expect(c.count).toBe(3);
    expect(c.firstToLastMs).toBeGreaterThanOrEqual(4);
  });

  it("has no span when all tokens arrive at once (tokens/s is then unknown, not infinite)", () => {
    const c = new TokenCounter();
    c.onToken([1, 2, 3, 4]);
    expect(c.count).toBe(4);
    expect(c.firstToLastMs).toBeNull();
  });
});
