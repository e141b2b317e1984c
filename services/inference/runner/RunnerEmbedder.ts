import { SovereignError } from "../../../core/errors/SovereignError.js";
import type { EngineEmbedder, EngineSettings } from "../InferenceEngine.js";
import { RunnerDied, type RunnerProcess } from "./RunnerProcess.js";
import type { RunnerHost } from "./RunnerHost.js";

/**
 * A GGUF embedding model in a runner of its own. A runner that dies fails the
 * batch in flight with ENGINE_CRASHED; the next batch starts a new one (the
 * host counts the crashes and quarantines a model that keeps crashing).
 */
export class RunnerEmbedder implements EngineEmbedder {
  dimensions: number | null;
  restarts = 0;
  private runner: RunnerProcess | null;
  private starting: Promise<RunnerProcess> | null = null;
  private disposed = false;

  private constructor(
    private readonly host: RunnerHost,
    readonly name: string,
    private readonly path: string,
    private readonly settings: EngineSettings,
    runner: RunnerProcess,
    dimensions: number | null,
  ) {
    this.runner = runner;
    this.dimensions = dimensions;
    this.watch(runner);
  }

  static async open(host: RunnerHost, name: string, path: string, threads: number): Promise<RunnerEmbedder> {
    const settings: EngineSettings = { threads, contextSize: 2048, sequences: 1, batchSize: 512, gpuLayers: 0 };
    const { runner, loaded } = await host.spawn(name, "embedding", path, settings);
    return new RunnerEmbedder(host, name, path, settings, runner, loaded.dimensions);
  }

  get pid(): number | null {
    return this.runner?.pid ?? null;
  }

  private watch(runner: RunnerProcess): void {
    void runner.exited.then((exit) => {
      this.host.released(runner.pid);
      if (this.runner === runner) this.runner = null;
      if (!exit.expected && !this.disposed) this.host.recordCrash(this.name, exit, "run");
    });
  }

  private live(): Promise<RunnerProcess> {
    if (this.disposed) return Promise.reject(new SovereignError("SHUTTING_DOWN"));
    if (this.runner) return Promise.resolve(this.runner);
    this.starting ??= this.host.spawn(this.name, "embedding", this.path, this.settings).then(({ runner }) => {
      this.restarts++;
      this.runner = runner;
      this.watch(runner);
      return runner;
    }).finally(() => { this.starting = null; });
    return this.starting;
  }

  async embed(texts: readonly string[]): Promise<{ vectors: Float32Array[]; tokens: number }> {
    const runner = await this.live();
    try {
      const out = await runner.request("embed", { texts: [...texts] });
      this.dimensions = out.dimensions;
      this.host.recordSuccess(this.name);
      return { vectors: out.vectors.map((v) => Float32Array.from(v)), tokens: out.tokens };
    } catch (err) {
      if (!(err instanceof RunnerDied)) throw err;
      await runner.exited;
      throw new SovereignError("ENGINE_CRASHED", `The runner for the embedding model "${this.name}" died: ${err.exit.signal ?? `exit code ${err.exit.code}`}. The next request starts a new one.`, {
        cause: err, details: { model: this.name, signal: err.exit.signal, retryAfterSeconds: 1 },
      });
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const r = this.runner;
    this.runner = null;
    await r?.stop();
  }
}
