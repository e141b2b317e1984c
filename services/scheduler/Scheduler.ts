import cron, { type ScheduledTask } from "node-cron";
import { randomUUID } from "node:crypto";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { IdleTracker } from "./IdleTracker.js";
import type { JobRun, JobStore, RunTrigger } from "./JobStore.js";

export interface JobContext {
  /** Aborted when the job's timeout passes or the node shuts down; long jobs check it between steps. */
  signal: AbortSignal;
  /** Epoch ms by which the job should have returned. */
  deadline: number;
  trigger: RunTrigger;
  /**
   * Resolves once no user waits on the node's foreground work (an interactive
   * generation), at once when nothing registered a gate. Long jobs await it
   * between units of work so that they yield to people (issue 19).
   */
  whenIdle: () => Promise<void>;
}

/** Resolves when foreground work (interactive generation) has stopped; rejects when `signal` aborts. */
export type ForegroundGate = (signal: AbortSignal) => Promise<void>;

export interface JobDefinition {
  /** Unique, kebab-case ("memory-summarize"). */
  name: string;
  /** A node-cron expression (5 or 6 fields). */
  schedule: string;
  description?: string;
  /** Start only when nobody has used the node for `idleMs` (defaults to scheduler.idleMinutes). Manual runs ignore it. */
  onlyWhenIdle?: boolean;
  idleMs?: number;
  /** The run is aborted and recorded as "timeout" after this long. */
  timeoutMs: number;
  /** Its return value is stored as the run's result (JSON). */
  run: (ctx: JobContext) => unknown;
}

export interface JobStatus {
  name: string;
  schedule: string;
  description: string | null;
  onlyWhenIdle: boolean;
  timeoutMs: number;
  paused: boolean;
  running: boolean;
  nextRunAt: string | null;
  lastRun: JobRun | null;
}

export type RunListener = (run: JobRun) => void;

export interface SchedulerOptions {
  store: JobStore;
  idle: IdleTracker;
  /** Default quiet time for onlyWhenIdle jobs. */
  idleMs: number;
  log?: { warn: (obj: object, msg: string) => void; error: (obj: object, msg: string) => void };
}

/**
 * Runs jobs that services register: on their cron schedule (after start())
 * or on demand. Runs never overlap, even across processes (a lease row in
 * SQLite), each is bounded by its timeout, and every run is recorded.
 */
export class Scheduler {
  private readonly jobs = new Map<string, JobDefinition>();
  private readonly tasks = new Map<string, ScheduledTask>();
  private readonly running = new Map<string, { controller: AbortController; done: Promise<JobRun> }>();
  private gate: ForegroundGate | undefined;
  private readonly listeners: RunListener[] = [];
  private readonly owner = `${process.pid}:${randomUUID().slice(0, 8)}`;
  private started = false;
  private closed = false;

  constructor(private readonly options: SchedulerOptions) {}

  register(def: JobDefinition): void {
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(def.name)) throw new Error(`job name "${def.name}" must be kebab-case`);
    if (this.jobs.has(def.name)) throw new Error(`job "${def.name}" registered twice`);
    if (!cron.validate(def.schedule)) throw new Error(`job "${def.name}": invalid cron schedule "${def.schedule}"`);
    if (!(def.timeoutMs > 0)) throw new Error(`job "${def.name}": timeoutMs must be positive`);
    this.jobs.set(def.name, def);
    this.options.store.ensure(def.name);
    if (this.started) this.schedule(def);
  }

  /** Inference registers what "a user is waiting" means; scheduled runs start after it and jobs await it between units. */
  setForegroundGate(gate: ForegroundGate): void {
    this.gate = gate;
  }

  /** Lets other services poke the idle tracker without holding it. */
  markActivity(): void {
    this.options.idle.markActivity();
  }

  idleForMs(): number {
    return this.options.idle.idleForMs();
  }

  onRunFinished(listener: RunListener): void {
    this.listeners.push(listener);
  }

  /** Starts the cron timers (the plugin calls it once every service has registered). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (const def of this.jobs.values()) this.schedule(def);
  }

  list(): JobStatus[] {
    return [...this.jobs.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((def) => {
        const next = this.tasks.get(def.name)?.getNextRun() ?? null;
        return {
          name: def.name,
          schedule: def.schedule,
          description: def.description ?? null,
          onlyWhenIdle: def.onlyWhenIdle ?? false,
          timeoutMs: def.timeoutMs,
          paused: this.options.store.isPaused(def.name),
          running: this.running.has(def.name) || this.options.store.leaseHeld(def.name),
          nextRunAt: next ? next.toISOString() : null,
          lastRun: this.options.store.lastRun(def.name) ?? null,
        };
      });
  }

  get(name: string): JobDefinition {
    const def = this.jobs.get(name);
    if (!def) throw new SovereignError("JOB_NOT_FOUND", `No job named "${name}".`, { details: { known: [...this.jobs.keys()] } });
    return def;
  }

  pause(name: string): void {
    this.get(name);
    this.options.store.setPaused(name, true);
  }

  resume(name: string): void {
    this.get(name);
    this.options.store.setPaused(name, false);
  }

  /**
   * Starts a run now, ignoring pause and idleness (a person asked for it).
   * Resolves to the run's id once it has started; `done` settles with the record.
   */
  runNow(name: string): { runId: number; done: Promise<JobRun> } {
    const def = this.get(name);
    const started = this.begin(def, "manual");
    if (!started) throw new SovereignError("JOB_ALREADY_RUNNING", `Job "${name}" is already running.`);
    return started;
  }

  /**
   * What a cron tick does: skip when paused or (for onlyWhenIdle jobs) when
   * the node is in use, otherwise run unless a run is already going.
   */
  async runScheduled(name: string): Promise<JobRun | undefined> {
    return this.tick(this.get(name));
  }

  private schedule(def: JobDefinition): void {
    const task = cron.createTask(def.schedule, () => this.tick(def), { name: def.name, noOverlap: true });
    void task.start();
    this.tasks.set(def.name, task);
  }

  private async tick(def: JobDefinition): Promise<JobRun | undefined> {
    const store = this.options.store;
    if (this.closed || store.isPaused(def.name)) return undefined;
    if (def.onlyWhenIdle) {
      const needed = def.idleMs ?? this.options.idleMs;
      const idle = this.options.idle.idleForMs();
      if (idle < needed) {
        store.recordSkip(def.name, "schedule", `not idle: quiet for ${Math.round(idle / 1000)} s of the ${Math.round(needed / 1000)} s needed`);
        return store.lastRun(def.name);
      }
    }
    const started = this.begin(def, "schedule");
    return started ? await started.done : undefined;
  }

  private begin(def: JobDefinition, trigger: RunTrigger): { runId: number; done: Promise<JobRun> } | undefined {
    if (this.closed) throw new SovereignError("SHUTTING_DOWN", "The scheduler is stopping.");
    const store = this.options.store;
    if (this.running.has(def.name)) return undefined;
    const now = Date.now();
    // The lease outlives the timeout a little, so a wedged run in a dead process frees the job eventually.
    if (!store.tryLease(def.name, this.owner, now + def.timeoutMs + 60_000, now)) return undefined;
    let runId: number;
    try {
      runId = store.startRun(def.name, trigger, now);
    } catch (err) {
      store.releaseLease(def.name, this.owner);
      throw err;
    }
    const controller = new AbortController();
    const deadline = now + def.timeoutMs;
    const done = this.execute(def, runId, controller, deadline, trigger);
    this.running.set(def.name, { controller, done });
    return { runId, done };
  }

  private async execute(def: JobDefinition, runId: number, controller: AbortController, deadline: number, trigger: RunTrigger): Promise<JobRun> {
    const store = this.options.store;
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new Error(`timed out after ${def.timeoutMs} ms`));
        reject(new Error(`timed out after ${def.timeoutMs} ms`));
      }, def.timeoutMs);
    });
    const signal = controller.signal;
    const whenIdle = () => (this.gate ? this.gate(signal) : Promise.resolve());
    // A scheduled run starts only when no user waits on a generation; a person's manual run starts at once.
    const work = (trigger === "manual" ? Promise.resolve() : whenIdle()).then(() => def.run({ signal, deadline, trigger, whenIdle }));
    try {
      const result = await Promise.race([work, timeout]);
      store.finishRun(runId, "ok", null, result);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      try {
        store.finishRun(runId, timedOut ? "timeout" : "error", message, undefined);
      } catch (recordErr) {
        this.options.log?.error({ err: recordErr, job: def.name }, "could not record the job run");
      }
      if (!timedOut) this.options.log?.warn({ err, job: def.name }, "job failed");
    } finally {
      clearTimeout(timer);
      // A run that ignored its timeout still holds the job until it really returns.
      await work.catch(() => undefined);
      store.releaseLease(def.name, this.owner);
      this.running.delete(def.name);
    }
    const record = store.run(runId) as JobRun;
    for (const l of this.listeners) {
      try {
        l(record);
      } catch (err) {
        this.options.log?.warn({ err }, "job run listener failed");
      }
    }
    return record;
  }

  /** Stops the timers, aborts running jobs and waits for them up to `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    this.closed = true;
    for (const task of this.tasks.values()) await task.destroy();
    this.tasks.clear();
    const pending = [...this.running.values()];
    for (const r of pending) r.controller.abort(new Error("the node is shutting down"));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(pending.map((r) => r.done)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }
}
