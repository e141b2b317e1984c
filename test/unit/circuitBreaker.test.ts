import { describe, expect, it } from "vitest";
import { CircuitBreaker, CircuitBreakerRegistry, CircuitOpenError, CircuitTimeoutError } from "../../core/circuitBreaker.js";

function clock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}
const fail = () => Promise.reject(new Error("down"));
const ok = () => Promise.resolve("ok");

describe("circuit breaker", () => {
  it("opens after the threshold, rejects without calling, then lets one trial through", async () => {
    const c = clock();
    const b = new CircuitBreaker("peer:x", { failureThreshold: 3, cooldownMs: 1000, now: c.now });
    for (let i = 0; i < 3; i++) await expect(b.call(fail)).rejects.toThrow("down");
    expect(b.state).toBe("open");
    let called = false;
    await expect(
      b.call(async () => {
        called = true;
        return 1;
      }),
    ).rejects.toBeInstanceOf(CircuitOpenError);
    expect(called).toBe(false);
    c.advance(1000);
    expect(b.state).toBe("half-open");
    await expect(b.call(fail)).rejects.toThrow("down");
    expect(b.state).toBe("open");
    c.advance(1000);
    await expect(b.call(ok)).resolves.toBe("ok");
    expect(b.snapshot()).toMatchObject({ state: "closed", consecutiveFailures: 0, successes: 1, failures: 4, rejections: 1 });
  });

  it("allows a single trial while half-open", async () => {
    const c = clock();
    const b = new CircuitBreaker("pull:h", { failureThreshold: 1, cooldownMs: 10, now: c.now });
    await expect(b.call(fail)).rejects.toThrow();
    c.advance(10);
    let release!: () => void;
    const trial = b.call(() => new Promise<string>((r) => (release = () => r("done"))));
    await expect(b.call(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    release();
    await expect(trial).resolves.toBe("done");
    expect(b.state).toBe("closed");
  });

  it("counts a timeout as a failure and aborts the call", async () => {
    const b = new CircuitBreaker("slow", { failureThreshold: 1, timeoutMs: 20 });
    let aborted = false;
    await expect(
      b.call((signal) => new Promise((resolve) => signal.addEventListener("abort", () => ((aborted = true), resolve(1))))),
    ).rejects.toBeInstanceOf(CircuitTimeoutError);
    expect(aborted).toBe(true);
    expect(b.state).toBe("open");
  });

  it("does not count errors the caller says are not the remote's fault", async () => {
    const b = new CircuitBreaker("p", { failureThreshold: 1, isFailure: (e) => (e as Error).message !== "bad request" });
    await expect(b.call(() => Promise.reject(new Error("bad request")))).rejects.toThrow();
    expect(b.state).toBe("closed");
  });

  it("keeps one breaker per name in a registry", () => {
    const r = new CircuitBreakerRegistry();
    expect(r.get("a")).toBe(r.get("a"));
    r.get("b");
    expect(r.snapshot().map((s) => s.name)).toEqual(["a", "b"]);
  });
});
