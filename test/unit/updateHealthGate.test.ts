import { describe, expect, it } from "vitest";
import { gateStep, startHealthGate, type GateCheck } from "../../services/update/healthGate.js";

const ok: GateCheck = { ok: true, detail: "fine" };
const bad: GateCheck = { ok: false, detail: "db-writable: disk full" };

describe("the trial's health gate", () => {
  it("passes only after an unbroken streak, which a failure restarts", () => {
    const s = { startedAt: 0, streakSince: null as number | null, lastFailure: null as string | null };
    let v = gateStep(s, 0, ok, 60_000, 600_000);
    expect(v).toEqual({ kind: "wait", streakSince: 0 });
    v = gateStep({ ...s, streakSince: 0 }, 50_000, bad, 60_000, 600_000);
    expect(v).toEqual({ kind: "wait", streakSince: null });
    v = gateStep({ ...s, streakSince: null }, 70_000, ok, 60_000, 600_000);
    expect(v).toEqual({ kind: "wait", streakSince: 70_000 });
    expect(gateStep({ ...s, streakSince: 70_000 }, 129_999, ok, 60_000, 600_000).kind).toBe("wait");
    expect(gateStep({ ...s, streakSince: 70_000 }, 130_000, ok, 60_000, 600_000)).toEqual({ kind: "pass" });
  });

  it("gives up at the timeout and names the last failure", () => {
    const v = gateStep({ startedAt: 0, streakSince: 590_000, lastFailure: "db-writable: disk full" }, 600_000, ok, 60_000, 600_000);
    expect(v.kind).toBe("timeout");
    expect(v.kind === "timeout" && v.why).toBe("not healthy for 60 s in a row within 600 s (last failure: db-writable: disk full)");
    const w = gateStep({ startedAt: 0, streakSince: null, lastFailure: null }, 600_000, bad, 60_000, 600_000);
    expect(w.kind === "timeout" && w.why).toContain("db-writable: disk full");
  });

  it("runs on a timer: a healthy node passes, a sick one times out, a thrown check counts as a failure", async () => {
    let clock = 0;
    const passed: string[] = [];
    const healthy = startHealthGate({ check: async () => ok, passMs: 30, intervalMs: 1, timeoutMs: 1000, onPass: () => passed.push("pass"), onTimeout: () => passed.push("timeout"), now: () => (clock += 10) });
    expect(await healthy.done).toBe("pass");
    const whys: string[] = [];
    let t = 0;
    const sick = startHealthGate({
      check: async () => {
        throw new Error("readiness threw");
      },
      passMs: 30, intervalMs: 1, timeoutMs: 100, onPass: () => whys.push("pass"), onTimeout: (why) => whys.push(why), now: () => (t += 10),
    });
    expect(await sick.done).toBe("timeout");
    expect(passed).toEqual(["pass"]);
    expect(whys).toEqual(["not healthy for 0 s in a row within 0 s (last failure: readiness threw)"]);
    const stopped = startHealthGate({ check: async () => ok, passMs: 1e9, intervalMs: 5, timeoutMs: 1e9, onPass: () => passed.push("late"), onTimeout: () => passed.push("late") });
    stopped.stop();
    expect(await stopped.done).toBe("stopped");
    expect(passed).toEqual(["pass"]);
  });
});
