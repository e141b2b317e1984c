import { SovereignError } from "../../../core/errors/SovereignError.js";
import type { ChatMessage } from "../types.js";
import type { EngineRun, EngineSettings, EngineStats, InferenceEngine, RunOptions } from "../InferenceEngine.js";
import { RunnerDied, type RunnerProcess } from "./RunnerProcess.js";
import type { CrashVerdict, RunnerHost } from "./RunnerHost.js";
import type { RunnerExit } from "./crashReason.js";

type State = "ready" | "restarting" | "broken" | "disposed";


/**
 * A chat model held by a runner process, behind the engine interface the
 * service already uses. When the runner dies (crash, signal, lost heartbeat)
 * the requests in flight end with ENGINE_CRASHED, and a new runner loads the
 * same model after a backoff; requests that arrive meanwhile wait for it.
 * After too many crashes the host quarantines the model and this engine
 * answers MODEL_QUARANTINED until the service drops it.
 */
export class RunnerEngine implements InferenceEngine {
  private runner: RunnerProcess | null = null;
  private state: State = "ready";
  private restarting: Promise<void> | null = null;
  private failure: SovereignError | null = null;
  private lastVerdict: CrashVerdict | null = null;
  /** The backoff before a restart; dispose() cuts it short. */
  private backoff: { timer: NodeJS.Timeout; done: () => void } | null = null;
  private busy = 0;
  restarts = 0;

  private constructor(
    private readonly host: RunnerHost,
    readonly name: string,
    private readonly path: string,
    readonly settings: EngineSettings,
    readonly contextSize: number,
  ) {}

  static async open(host: RunnerHost, name: string, path: string, settings: EngineSettings): Promise<RunnerEngine> {
    const { runner, loaded } = await host.spawn(name, "llm", path, settings);
    const engine = new RunnerEngine(host, name, path, settings, loaded.contextSize);
    engine.attach(runner);
    return engine;
  }

  /** False once the model is quarantined or its runner cannot be brought back: the service loads afresh. */
  get healthy(): boolean {
    return this.state === "ready" || this.state === "restarting";
  }

  /** Disposed (read through a getter: it changes across awaits). */
  private get gone(): boolean {
    return this.state === "disposed";
  }

  get busySlots(): number {
    return this.busy;
  }

  get pid(): number | null {
    return this.runner?.pid ?? null;
  }

  get status(): State {
    return this.state;
  }

  private attach(runner: RunnerProcess): void {
    this.runner = runner;
    this.state = "ready";
    void runner.exited.then((exit) => this.onExit(runner, exit));
  }

  private onExit(runner: RunnerProcess, exit: RunnerExit): void {
    this.host.released(runner.pid);
    if (runner !== this.runner) return;
    this.runner = null;
    if (exit.expected || this.state === "disposed") return;
    const verdict = this.host.recordCrash(this.name, exit, "run");
    this.lastVerdict = verdict;
    if (verdict.quarantined) {
      this.state = "broken";
      this.failure = verdict.error;
      return;
    }
    this.state = "restarting";
    this.restarting = this.restart(verdict.delayMs);
  }

  /** A new runner for the same model, after the backoff; a crash while loading backs off again. */
  private async restart(delayMs: number): Promise<void> {
    await new Promise<void>((done) => {
      this.backoff = { timer: setTimeout(done, delayMs), done };
    });
    this.backoff = null;
    if (this.gone) return;
    try {
      const { runner } = await this.host.spawn(this.name, "llm", this.path, this.settings);
      if (this.gone) {
        await runner.stop();
        return;
      }
      this.restarts++;
      this.attach(runner);
    } catch (err) {
      const e = err instanceof SovereignError ? err : new SovereignError("ENGINE_UNAVAILABLE", (err as Error).message, { cause: err });
      if (e.code === "ENGINE_CRASHED" && e.details?.quarantined !== true && !this.gone) {
        this.restarting = this.restart(Number(e.details?.retryAfterSeconds ?? 1) * 1000);
        return;
      }
      this.state = "broken";
      this.failure = e;
    }
  }

  /** The live runner, waiting for a restart in progress. */
  private async live(): Promise<RunnerProcess> {
    for (;;) {
      if (this.state === "ready" && this.runner) return this.runner;
      if (this.state === "restarting" && this.restarting) {
        await this.restarting;
        continue;
      }
      if (this.state === "disposed") throw new SovereignError("SHUTTING_DOWN");
      throw this.failure ?? new SovereignError("ENGINE_UNAVAILABLE", `The runner for "${this.name}" is not available.`);
    }
  }

  /** A request's runner died under it: the error says how, and whether the model is now quarantined. */
  private async crashed(runner: RunnerProcess, err: RunnerDied, what: string): Promise<SovereignError> {
    await runner.exited;
    const v = this.lastVerdict;
    return new SovereignError("ENGINE_CRASHED", `The runner for "${this.name}" died ${what}: ${v?.reason ?? "it exited"}. ${v?.quarantined ? "The model is now quarantined." : "A new runner is starting."}`, {
      cause: err,
      details: { model: this.name, signal: err.exit.signal, reason: v?.reason ?? null, quarantined: v?.quarantined ?? false, retryAfterSeconds: Math.max(1, Math.ceil((v?.delayMs ?? 1000) / 1000)) },
    });
  }

  private async call<T>(what: string, fn: (runner: RunnerProcess) => Promise<T>): Promise<T> {
    const runner = await this.live();
    try {
      return await fn(runner);
    } catch (err) {
      if (err instanceof RunnerDied) throw await this.crashed(runner, err, what);
      throw err;
    }
  }

  tokenCount(text: string): Promise<number> {
    return this.call("while counting tokens", (r) => r.request("tokenize", { text }));
  }

  chatPromptTokens(messages: readonly ChatMessage[]): Promise<number> {
    return this.call("while counting tokens", (r) => r.request("chatTokens", { messages: [...messages] }));
  }

  chat(messages: readonly ChatMessage[], options: RunOptions, defaultMaxTokens: number): Promise<EngineRun> {
    return this.generate({ mode: "chat", messages: [...messages] }, options, defaultMaxTokens);
  }

  complete(prompt: string, options: RunOptions, defaultMaxTokens: number): Promise<EngineRun> {
    return this.generate({ mode: "complete", prompt }, options, defaultMaxTokens);
  }

  private generate(body: { mode: "chat" | "complete"; messages?: ChatMessage[]; prompt?: string }, options: RunOptions, defaultMaxTokens: number): Promise<EngineRun> {
    return this.call("in the middle of a generation", async (runner) => {
      this.busy++;
      let id = -1;
      // A client that goes away cancels the generation in the runner (it ends as "abort").
      const cancel = () => {
        if (id >= 0) runner.request("cancel", { target: id }).catch(() => undefined);
      };
      options.signal?.addEventListener("abort", cancel, { once: true });
      try {
        const pending = runner.request("generate", {
          ...body, sampling: options.sampling, defaultMaxTokens,
          ...(options.grammar ? { grammar: options.grammar } : {}), ...(options.tools ? { tools: options.tools } : {}), key: options.key ?? null,
        }, { ...(options.onText ? { onText: options.onText } : {}), ...(options.onToolCall ? { onToolCall: options.onToolCall } : {}), onId: (i) => { id = i; } });
        if (options.signal?.aborted) cancel();
        const run = await pending;
        this.host.recordSuccess(this.name);
        return run;
      } finally {
        options.signal?.removeEventListener("abort", cancel);
        this.busy--;
      }
    });
  }

  /**
   * The runner's decode counts, from its `stats` message. A status read never
   * waits for a restart: while the runner is restarting, or when it died
   * during the read, there are none (a new runner starts its counts at 0).
   */
  async stats(): Promise<EngineStats> {
    const runner = this.state === "ready" ? this.runner : null;
    if (!runner) return { batching: null, threads: null, binary: null, localBuildRefused: null };
    try {
      const s = await runner.request("stats", {});
      return { batching: s.batching, threads: s.threads, binary: s.binary ?? null, localBuildRefused: s.localBuildRefused ?? null };
    } catch (err) {
      if (err instanceof RunnerDied) return { batching: null, threads: null, binary: null, localBuildRefused: null };
      throw err;
    }
  }

  async dispose(): Promise<void> {
    if (this.state === "disposed") return;
    this.state = "disposed";
    if (this.backoff) {
      clearTimeout(this.backoff.timer);
      this.backoff.done();
    }
    const runner = this.runner;
    this.runner = null;
    await runner?.stop();
  }
}
