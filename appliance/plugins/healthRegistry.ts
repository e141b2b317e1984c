/**
 * Services register checks here. /readyz shows all of them; the systemd
 * watchdog is fed only while every check marked `liveness` passes.
 */
export interface CheckResult {
  ok: boolean;
  /** Why it is not ok (or a short status when ok). */
  detail?: string;
}

export interface HealthCheck {
  name: string;
  /** A liveness check failing means the process is wedged: the watchdog stops. */
  liveness: boolean;
  check: () => CheckResult | Promise<CheckResult>;
  /** For a check that measures over the time since it last ran: start a new window. */
  resetWindow?: () => void;
}

export class HealthRegistry {
  private readonly checks = new Map<string, HealthCheck>();

  register(check: HealthCheck): void {
    if (this.checks.has(check.name)) throw new Error(`health check "${check.name}" registered twice`);
    this.checks.set(check.name, check);
  }

  /** Starts a new window for the checks that measure since their last run (the watchdog's first check must not see startup). */
  resetWindows(): void {
    for (const c of this.checks.values()) c.resetWindow?.();
  }

  /** Runs every check (or only liveness ones); a throwing or slow check counts as failed. */
  async run(options: { livenessOnly?: boolean; timeoutMs?: number } = {}): Promise<Record<string, CheckResult>> {
    const timeoutMs = options.timeoutMs ?? 2000;
    const entries = [...this.checks.values()].filter((c) => !options.livenessOnly || c.liveness);
    const results = await Promise.all(
      entries.map(async (c): Promise<[string, CheckResult]> => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const timeout = new Promise<CheckResult>((resolve) => {
            timer = setTimeout(() => resolve({ ok: false, detail: `check timed out after ${timeoutMs} ms` }), timeoutMs);
          });
          return [c.name, await Promise.race([Promise.resolve().then(c.check), timeout])];
        } catch (err) {
          return [c.name, { ok: false, detail: (err as Error).message }];
        } finally {
          if (timer) clearTimeout(timer);
        }
      }),
    );
    return Object.fromEntries(results);
  }
}
