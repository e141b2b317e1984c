import type { LlamaEmbeddingContext, LlamaModel } from "node-llama-cpp";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import { loadLlama, type EngineLogger } from "../LlamaEngine.js";
import type { Embedder } from "./OnnxEmbedder.js";

/** The second embedding backend: a GGUF embedding model through node-llama-cpp, L2-normalised like the ONNX one. */
export class GgufEmbedder implements Embedder {
  dimensions: number | null = null;
  private constructor(private readonly model: LlamaModel, private readonly context: LlamaEmbeddingContext, private readonly maxTokens: number) {}

  static async load(path: string, threads: number, logger?: EngineLogger): Promise<GgufEmbedder> {
    const llama = await loadLlama(logger);
    try {
      const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
      const contextSize = Math.min(model.trainContextSize, 2048);
      const context = await model.createEmbeddingContext({ contextSize, threads });
      return new GgufEmbedder(model, context, contextSize);
    } catch (err) {
      throw new SovereignError("MODEL_LOAD_FAILED", `llama.cpp could not load the embedding model: ${(err as Error).message}`, { cause: err });
    }
  }

  async embed(texts: readonly string[]): Promise<{ vectors: Float32Array[]; tokens: number }> {
    const vectors: Float32Array[] = [];
    let tokens = 0;
    for (const text of texts) {
      const ids = this.model.tokenize(text);
      if (ids.length >= this.maxTokens)
        throw new SovereignError("CONTEXT_LENGTH_EXCEEDED", `An input is ${ids.length} tokens; the embedding context holds ${this.maxTokens}.`, { details: { tokens: ids.length, contextSize: this.maxTokens } });
      tokens += ids.length;
      const raw = (await this.context.getEmbeddingFor(ids)).vector;
      const v = Float32Array.from(raw);
      const norm = Math.sqrt(v.reduce((n, x) => n + x * x, 0)) || 1;
      for (let i = 0; i < v.length; i++) v[i] = (v[i] ?? 0) / norm;
      this.dimensions = v.length;
      vectors.push(v);
    }
    return { vectors, tokens };
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}
