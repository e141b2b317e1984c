import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import type { ErrorCode } from "../../../core/errors/catalog.js";
import type { FromWorker, OnnxWorkerData, ToWorker, WorkerError } from "./onnxWorker.js";

export interface Embedder {
  readonly dimensions: number | null;
  /** One L2-normalised vector per text, in order; `tokens` is the sum of input tokens. */
  embed(texts: readonly string[]): Promise<{ vectors: Float32Array[]; tokens: number }>;
  dispose(): Promise<void>;
}

export interface OnnxEmbedderOptions {
  /** Intra-op threads; from tuning.embeddingThreads. */
  threads: number;
  /** Texts per forward pass. Defaults to 32. */
  batchSize?: number;
  /** Tokens kept per text (longer texts are truncated). Defaults to 512. */
  maxTokens?: number;
}

/**
 * The worker's entry: onnxWorker.js beside this file in the build; from
 * source (vitest, tsx) the .ts file, behind tsx's loader registered in the
 * worker, because a worker does not inherit the parent's loader hooks.
 */
function spawnWorker(data: OnnxWorkerData): Worker {
  const here = import.meta.url;
  if (!here.endsWith(".ts")) return new Worker(new URL("./onnxWorker.js", here), { workerData: data });
  const tsxApi = pathToFileURL(createRequire(fileURLToPath(here)).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href;
  const entry = new URL("./onnxWorker.ts", here).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: data });
}

function toError(e: WorkerError): SovereignError {
  return new SovereignError(e.code as ErrorCode, e.message, e.details ? { details: e.details } : {});
}

interface Pending {
  resolve(value: { vectors: Float32Array[]; tokens: number }): void;
  reject(err: Error): void;
}

/**
 * An ONNX sentence-transformer that runs in a worker thread (onnxWorker.ts):
 * onnxruntime-node computes synchronously on the thread that calls it, and a
 * batch of embeddings in the HTTP process held up every request for the
 * length of the batch. Requests queue in the worker, one at a time. A worker
 * that dies fails the requests it held (ENGINE_CRASHED) and is started again
 * on the next call.
 */
export class OnnxEmbedder implements Embedder {
  dimensions: number | null = null;
  private worker: Worker | null;
  private readonly pending = new Map<number, Pending>();
  private restarting: Promise<Worker> | null = null;
  private nextId = 1;
  private disposed = false;

  private constructor(
    private readonly data: OnnxWorkerData,
    worker: Worker,
  ) {
    this.worker = worker;
    this.attach(worker);
  }

  /** `dir` holds model.onnx and tokenizer.json (tokenizer_config.json optional). */
  static async load(dir: string, options: OnnxEmbedderOptions): Promise<OnnxEmbedder> {
    const data: OnnxWorkerData = { dir, options };
    const worker = await OnnxEmbedder.start(data);
    return new OnnxEmbedder(data, worker);
  }

  /** Starts a worker and waits until its model is loaded (or refused). */
  private static start(data: OnnxWorkerData): Promise<Worker> {
    const worker = spawnWorker(data);
    return new Promise((resolve, reject) => {
      const onMessage = (msg: FromWorker): void => {
        cleanup();
        if (msg.type === "loaded") resolve(worker);
        else {
          void worker.terminate();
          reject(msg.type === "error" ? toError(msg.error) : new SovereignError("MODEL_LOAD_FAILED", "The embedding worker answered before loading its model."));
        }
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(new SovereignError("MODEL_LOAD_FAILED", `The embedding worker failed while loading ${data.dir}: ${err.message}`, { cause: err }));
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new SovereignError("MODEL_LOAD_FAILED", `The embedding worker exited (code ${code}) while loading ${data.dir}.`));
      };
      const cleanup = (): void => {
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
    });
  }

  private attach(worker: Worker): void {
    worker.on("message", (msg: FromWorker) => {
      if (msg.type === "result") {
        this.dimensions = msg.dimensions;
        this.settle(msg.id)?.resolve({ vectors: msg.vectors, tokens: msg.tokens });
      } else if (msg.type === "error" && msg.id !== null) this.settle(msg.id)?.reject(toError(msg.error));
    });
    const died = (why: string): void => {
      if (this.worker !== worker) return;
      this.worker = null;
      const err = new SovereignError("ENGINE_CRASHED", `The embedding worker stopped (${why}); the request was not answered.`);
      for (const id of [...this.pending.keys()]) this.settle(id)?.reject(err);
    };
    worker.on("error", (err) => died(err.message));
    worker.on("exit", (code) => died(`exit code ${code}`));
  }

  /** The live worker, started again (once, however many callers wait) after it died. */
  private running(): Promise<Worker> {
    if (this.worker) return Promise.resolve(this.worker);
    this.restarting ??= OnnxEmbedder.start(this.data)
      .then((w) => {
        if (this.disposed) {
          void w.terminate();
          throw new SovereignError("ENGINE_UNAVAILABLE", "The embedding model was unloaded.");
        }
        this.worker = w;
        this.attach(w);
        return w;
      })
      .finally(() => {
        this.restarting = null;
      });
    return this.restarting;
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    return p;
  }

  async embed(texts: readonly string[]): Promise<{ vectors: Float32Array[]; tokens: number }> {
    if (this.disposed) throw new SovereignError("ENGINE_UNAVAILABLE", "The embedding model was unloaded.");
    if (texts.length === 0) return { vectors: [], tokens: 0 };
    const worker = await this.running();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ op: "embed", id, texts: [...texts] } satisfies ToWorker);
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const worker = this.worker;
    this.worker = null;
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(new SovereignError("ENGINE_UNAVAILABLE", "The embedding model was unloaded."));
    if (worker) await worker.terminate();
  }
}
