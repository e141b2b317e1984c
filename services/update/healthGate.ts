/**
 * The health gate of a trial boot: the node marks the new slot good only after
 * its checks have passed without a break for a while, and gives the trial up
 * when that never happens in time, so a node that serves but is sick (a
 * database that cannot be written, a wedged engine) rolls back too. A node
 * that never starts is the boot counter's and the watchdog's to catch.
 */

export interface GateCheck {
  ok: boolean;
  detail: string;
}

export type GateVerdict =
  | { kind: "wait"; streakSince: number | null }
  | { kind: "pass" }
  | { kind: "timeout"; why: string };

/**
 * One step of the gate, pure: the streak of passing checks restarts at every
 * failure; `passMs` of streak passes; no pass by `timeoutMs` after the start
 * gives up, naming the last failure.
 */
export function gateStep(
  s: { startedAt: number; streakSince: number | null; lastFailure: string | null },
  now: number,
  check: GateCheck,
  passMs: number,
  timeoutMs: number,
): GateVerdict {
  const streakSince = check.ok ? (s.streakSince ?? now) : null;
  if (streakSince !== null && now - streakSince >= passMs) return { kind: "pass" };
  if (now - s.startedAt >= timeoutMs) {
    const last = check.ok ? s.lastFailure : check.detail;
    return { kind: "timeout", why: `not healthy for ${Math.round(passMs / 1000)} s in a row within ${Math.round(timeoutMs / 1000)} s${last ? ` (last failure: ${last})` : ""}` };
  }
  return { kind: "wait", streakSince };
}

export interface HealthGateOptions {
  /** All of the node's checks in one verdict (its readiness). */
  check: () => Promise<GateCheck>;
  passMs: number;
  intervalMs: number;
  timeoutMs: number;
  onPass: () => void;
  onTimeout: (why: string) => void;
  now?: () => number;
}

/** Runs the gate on a timer until it passes, times out or is stopped; the timer never keeps the process alive. */
export function startHealthGate(o: HealthGateOptions): { stop(): void; readonly done: Promise<"pass" | "timeout" | "stopped"> } {
  const now = o.now ?? Date.now;
  const state = { startedAt: now(), streakSince: null as number | null, lastFailure: null as string | null };
  let timer: NodeJS.Timeout | null = null;
  let finish: (v: "pass" | "timeout" | "stopped") => void = () => undefined;
  const done = new Promise<"pass" | "timeout" | "stopped">((resolve) => (finish = resolve));
  let stopped = false;

  const tick = async (): Promise<void> => {
    timer = null;
    let check: GateCheck;
    try {
      check = await o.check();
    } catch (err) {
      check = { ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
    if (stopped) return;
    if (!check.ok) state.lastFailure = check.detail;
    const v = gateStep(state, now(), check, o.passMs, o.timeoutMs);
    if (v.kind === "pass") {
      stopped = true;
      o.onPass();
      finish("pass");
    } else if (v.kind === "timeout") {
      stopped = true;
      o.onTimeout(v.why);
      finish("timeout");
    } else {
      state.streakSince = v.streakSince;
      timer = setTimeout(() => void tick(), o.intervalMs);
      timer.unref();
    }
  };
  timer = setTimeout(() => void tick(), 0);
  timer.unref();
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      finish("stopped");
    },
    done,
  };
}
