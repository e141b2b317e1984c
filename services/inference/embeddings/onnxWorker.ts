/**
 * The embedding worker thread: owns one ONNX embedding model (OnnxModel) and
 * answers the node's messages one at a time. Tokenizing, the forward pass and
 * pooling all run here, so a batch never holds up the HTTP event loop.
 */
import { parentPort, workerData } from "node:worker_threads";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import type { OnnxEmbedderOptions } from "./OnnxEmbedder.js";
import { OnnxModel } from "./OnnxModel.js";

export type ToWorker = { op: "embed"; id: number; texts: string[] } | { op: "dispose"; id: number };

export interface WorkerError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export type FromWorker =
  | { type: "loaded" }
  | { type: "result"; id: number; vectors: Float32Array[]; tokens: number; dimensions: number | null }
  | { type: "disposed"; id: number }
  | { type: "error"; id: number | null; error: WorkerError };

export interface OnnxWorkerData {
  dir: string;
  options: OnnxEmbedderOptions;
}

function wire(err: unknown): WorkerError {
  if (err instanceof SovereignError) return { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  return { code: "MODEL_LOAD_FAILED", message: `onnxruntime failed: ${(err as Error)?.message ?? String(err)}` };
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error("onnxWorker runs as a worker thread");
  const { dir, options } = workerData as OnnxWorkerData;
  let model: OnnxModel;
  try {
    model = await OnnxModel.load(dir, options);
  } catch (err) {
    port.postMessage({ type: "error", id: null, error: wire(err) } satisfies FromWorker);
    return;
  }
  port.postMessage({ type: "loaded" } satisfies FromWorker);
  // One message at a time: onnxruntime computes synchronously, so overlapping runs would only interleave.
  let chain = Promise.resolve();
  port.on("message", (msg: ToWorker) => {
    chain = chain.then(async () => {
      if (msg.op === "dispose") {
        await model.dispose();
        port.postMessage({ type: "disposed", id: msg.id } satisfies FromWorker);
        port.close();
        return;
      }
      try {
        const { vectors, tokens } = await model.embed(msg.texts);
        // Hand the vectors' memory over instead of copying it.
        port.postMessage({ type: "result", id: msg.id, vectors, tokens, dimensions: model.dimensions } satisfies FromWorker, vectors.map((v) => v.buffer as ArrayBuffer));
      } catch (err) {
        port.postMessage({ type: "error", id: msg.id, error: wire(err) } satisfies FromWorker);
      }
    });
  });
}

void main();
