import { describe, expect, it } from "vitest";
import { LogSampler } from "../../core/http/LogSampler.js";

describe("LogSampler", () => {
  it("writes the first lines of a key per window, counts the rest, and reports the count on the next window's first line", () => {
    let t = 0;
    const s = new LogSampler(3, 1000, 100, () => t);
    const first = Array.from({ length: 10 }, () => s.take("a").write);
    expect(first).toEqual([true, true, true, false, false, false, false, false, false, false]);
    expect(s.take("b")).toEqual({ write: true, suppressed: 0 });
    t = 1000;
    expect(s.take("a")).toEqual({ write: true, suppressed: 7 });
    expect(s.take("a")).toEqual({ write: true, suppressed: 0 });
  });

  it("keeps at most maxKeys keys", () => {
    const s = new LogSampler(1, 60_000, 10, () => 0);
    for (let i = 0; i < 1000; i++) s.take(`k${i}`);
    expect((s as unknown as { windows: Map<string, unknown> }).windows.size).toBeLessThanOrEqual(10);
  });
});
