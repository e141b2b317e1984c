import { readFileSync } from "node:fs";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import { readGguf } from "../../../core/gguf/readGguf.js";
import type { EngineHost, EngineLogger, EngineProcessStats, EngineSettings } from "../InferenceEngine.js";
import { RunnerDied, RunnerProcess, type RunnerProcessOptions } from "./RunnerProcess.js";
import { RunnerEngine } from "./RunnerEngine.js";
import { RunnerEmbedder } from "./RunnerEmbedder.js";
import { NATIVE_FAULTS, describeExit, type RunnerExit } from "./crashReason.js";
import { detectMemoryCap, type MemoryCapper } from "./memoryCap.js";
import { estimateModelMemory, mib } from "./modelMemory.js";
import type { LoadedInfo } from "./protocol.js";

export interface RunnerHostOptions extends RunnerProcessOptions {
  /** tune()'s model RAM budget: each runner's memory cap. null: no cap. */
  memoryBudgetMb: number | null;
  /** Crashes of one model, with no successful request between them, before it is quarantined. Defaults to 5. */
  maxCrashes?: number;
  /** Records a quarantine in the registry. */
  onQuarantine(name: string, q: { reason: string; signal: string | null; crashes: number }): void;
  logger?: EngineLogger;
}

/** What the host decided about one crash. */
export interface CrashVerdict {
  quarantined: boolean;
  crashes: number;
  reason: string;
  /** Wait before the next runner for this model. */
  delayMs: number;
  error: SovereignError;
}

const OOM_TEXT = /cannot allocate memory|insufficient memory|failed to allocate|unable to allocate|bad_alloc|out of memory/i;

/** Backoff between runners of a crashing model: 0.25 s, 0.5 s, 1 s, 2 s ... at most 30 s. */
export function backoffMs(crashes: number): number {
  return Math.min(30_000, 250 * 2 ** Math.max(0, crashes - 1));
}

function rssOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/**
 * Engines in supervised runner processes: one runner per loaded model, under
 * a memory cap from the model RAM budget. It counts each model's crashes,
 * quarantines a model whose load dies of a native fault (the assert would
 * fire again) or that crashes `maxCrashes` times in a row, and turns an
 * out-of-memory load into an error that names the model and its size.
 */
export class RunnerHost implements EngineHost {
  readonly mode = "runner" as const;
  private capper: MemoryCapper | null | undefined;
  private readonly crashes = new Map<string, number>();
  private readonly engines = new Set<RunnerEngine>();
  private readonly embedders = new Set<RunnerEmbedder>();
  private gpu = false;

  constructor(private readonly opts: RunnerHostOptions) {}

  private cap(settings: EngineSettings): MemoryCapper | null {
    if (this.capper === undefined) {
      this.gpu = Boolean(settings.gpu);
      this.capper = this.opts.memoryBudgetMb === null ? null : detectMemoryCap(this.opts.memoryBudgetMb, { gpu: this.gpu, threads: settings.threads, ...(this.opts.logger ? { logger: this.opts.logger } : {}) });
      if (this.capper) this.opts.logger?.info?.({ capMiB: this.opts.memoryBudgetMb, via: this.capper.via }, "runners get a memory cap");
    }
    return this.capper;
  }

  /** Starts a runner, caps it, and loads the model into it. Failures come back as the errors a caller should see. */
  async spawn(name: string, kind: "llm" | "embedding", path: string, settings: EngineSettings): Promise<{ runner: RunnerProcess; loaded: LoadedInfo }> {
    const cap = this.cap(settings);
    const runner = await RunnerProcess.start({ ...this.opts, env: { ...cap?.env, ...(settings.gpu ? { SOVEREIGN_RUNNER_GPU: settings.gpu } : {}) } });
    try {
      if (cap) {
        try {
          await cap.apply(runner.pid);
        } catch (err) {
          this.opts.logger?.warn({ err, runner: runner.pid, via: cap.via }, "could not cap the runner's memory; it runs without a cap");
        }
      }
      const loaded = await runner.request("load", { name, path, kind, settings });
      return { runner, loaded };
    } catch (err) {
      if (err instanceof RunnerDied) {
        this.released(runner.pid);
        if (cap && (cap.oomKilled(runner.pid) || OOM_TEXT.test(err.exit.stderrTail))) throw this.outOfMemory(name, path, settings, cap, describeExit(err.exit));
        throw this.recordCrash(name, err.exit, "load").error;
      }
      // llama.cpp's log lines reach the runner's JS thread asynchronously, sometimes after the load has failed: let them arrive.
      await new Promise((r) => setTimeout(r, 150));
      const logs = runner.recentLogs().join("\n");
      await runner.stop();
      this.released(runner.pid);
      if (cap && OOM_TEXT.test(`${(err as Error).message}\n${logs}`)) throw this.outOfMemory(name, path, settings, cap, logs.split("\n").find((l) => OOM_TEXT.test(l)) ?? (err as Error).message);
      if (err instanceof SovereignError && err.code === "MODEL_LOAD_FAILED" && logs) {
        const why = logs.split("\n").filter((l) => /error/i.test(l)).slice(-2).join("; ");
        throw new SovereignError("MODEL_LOAD_FAILED", `llama.cpp could not load "${name}": ${why || err.message}`, { cause: err });
      }
      throw err;
    }
  }

  private outOfMemory(name: string, path: string, settings: EngineSettings, cap: MemoryCapper, evidence: string): SovereignError {
    let need = "";
    let needBytes: number | null = null;
    try {
      const m = estimateModelMemory(readGguf(path), settings);
      needBytes = m.totalBytes;
      need = ` needs about ${mib(m.totalBytes)} (weights ${mib(m.weightsBytes)}, KV cache ${mib(m.kvBytes)}, compute buffers ${mib(m.computeBytes)}), but`;
    } catch {
      // the size stays unnamed
    }
    this.opts.logger?.warn({ model: name, capBytes: cap.bytes, needBytes, evidence }, "model load ran out of its runner's memory cap");
    return new SovereignError("MODEL_OUT_OF_MEMORY", `"${name}"${need} its runner may use ${mib(cap.bytes)} (tuning.modelRamBudgetMb, enforced by ${cap.via}); the load failed with: ${evidence}`, {
      details: { model: name, neededBytes: needBytes, capBytes: cap.bytes, via: cap.via },
    });
  }

  /** Counts a crash of `name`'s runner and decides: restart after a backoff, or quarantine. */
  recordCrash(name: string, exit: RunnerExit, phase: "load" | "run"): CrashVerdict {
    const crashes = (this.crashes.get(name) ?? 0) + 1;
    this.crashes.set(name, crashes);
    const reason = describeExit(exit);
    const max = this.opts.maxCrashes ?? 5;
    // A native fault while loading is the file's doing: the same load would abort again.
    const quarantined = (phase === "load" && exit.signal !== null && NATIVE_FAULTS.has(exit.signal)) || crashes >= max;
    const delayMs = backoffMs(crashes);
    this.opts.logger?.error?.({ model: name, phase, crashes, signal: exit.signal, code: exit.code, reason, quarantined }, "runner crashed");
    if (quarantined) {
      this.crashes.delete(name);
      try {
        this.opts.onQuarantine(name, { reason, signal: exit.signal, crashes });
      } catch (err) {
        this.opts.logger?.warn({ err, model: name }, "could not record the quarantine");
      }
    }
    const error = quarantined
      ? new SovereignError("ENGINE_CRASHED", `The runner for "${name}" died ${phase === "load" ? "while loading the model" : "again"}: ${reason}. The model is now quarantined (${crashes} crash${crashes === 1 ? "" : "es"}).`, {
        details: { model: name, signal: exit.signal, reason, quarantined: true, crashes },
        hint: `Retry it with \`sovereign model retry ${name}\` or remove it.`,
      })
      : new SovereignError("ENGINE_CRASHED", `The runner for "${name}" died${phase === "load" ? " while loading the model" : ""}: ${reason}.`, {
        details: { model: name, signal: exit.signal, reason, quarantined: false, crashes, retryAfterSeconds: Math.max(1, Math.ceil(delayMs / 1000)) },
      });
    return { quarantined, crashes, reason, delayMs, error };
  }

  /** A request succeeded: the model's crashes stop counting as a loop. */
  recordSuccess(name: string): void {
    this.crashes.delete(name);
  }

  /** A runner exited: its cgroup (if any) can go. */
  released(pid: number): void {
    this.capper?.release(pid);
  }

  async loadModel(name: string, path: string, settings: EngineSettings): Promise<RunnerEngine> {
    const engine = await RunnerEngine.open(this, name, path, settings);
    this.engines.add(engine);
    const dispose = engine.dispose.bind(engine);
    engine.dispose = async () => {
      this.engines.delete(engine);
      await dispose();
    };
    return engine;
  }

  async loadEmbedder(name: string, path: string, threads: number): Promise<RunnerEmbedder> {
    const embedder = await RunnerEmbedder.open(this, name, path, threads);
    this.embedders.add(embedder);
    const dispose = embedder.dispose.bind(embedder);
    embedder.dispose = async () => {
      this.embedders.delete(embedder);
      await dispose();
    };
    return embedder;
  }

  processes(): EngineProcessStats[] {
    const cap = this.capper ? { bytes: this.capper.bytes, via: this.capper.via } : null;
    const out: EngineProcessStats[] = [];
    for (const e of this.engines)
      if (e.pid !== null) out.push({ pid: e.pid, model: e.name, kind: "llm", rssBytes: rssOf(e.pid), memoryCap: cap, restarts: e.restarts, state: e.status, busy: e.busySlots });
    for (const e of this.embedders)
      if (e.pid !== null) out.push({ pid: e.pid, model: e.name, kind: "embedding", rssBytes: rssOf(e.pid), memoryCap: cap, restarts: e.restarts, state: "ready", busy: 0 });
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.engines, ...this.embedders].map((e) => e.dispose().catch(() => undefined)));
  }
}
