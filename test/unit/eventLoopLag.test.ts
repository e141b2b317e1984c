import { describe, expect, it } from "vitest";
import { EventLoopLag } from "../../appliance/plugins/EventLoopLag.js";

describe("EventLoopLag", () => {
  const clock = () => {
    let t = 0;
    return { now: () => t, at: (ms: number) => void (t = ms) };
  };

  it("counts a stall that the timer recorded, once", () => {
    const c = clock();
    const lag = new EventLoopLag(20, c.now);
    for (const t of [20, 40, 3040]) {
      c.at(t);
      lag.tick();
    }
    expect(lag.takeMaxMs()).toBe(2980);
    c.at(3060);
    lag.tick();
    expect(lag.takeMaxMs()).toBe(0);
  });

  it("counts a stall still in progress when the read comes before the timer (the watchdog's race)", () => {
    const c = clock();
    const lag = new EventLoopLag(20, c.now);
    c.at(20);
    lag.tick();
    // A 3 s block; the self-check's timer runs before this one.
    c.at(3030);
    expect(lag.takeMaxMs()).toBe(2990);
    // The late tick that follows does not report the same stall again: one block is one failed check.
    lag.tick();
    c.at(3050);
    lag.tick();
    expect(lag.takeMaxMs()).toBe(0);
  });

  it("reset starts a window that does not see the start-up's blocking", () => {
    const c = clock();
    const lag = new EventLoopLag(20, c.now);
    c.at(5000);
    lag.reset();
    c.at(5010);
    expect(lag.takeMaxMs()).toBe(0);
  });
});
