import type { InferenceApi } from "../inference/types.js";

/**
 * What memory needs from an embedding model. The inference service provides
 * one (`app.inference`); memory works without it (FTS only) and embeds the
 * backlog once a model appears.
 */
export interface Embedder {
  /** Identifies the model; vectors from different models are never mixed. */
  readonly model: string;
  readonly dims: number;
  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]>;
}

/** Returns the embedder usable right now, or undefined (no model loaded or installed). */
export type EmbedderSource = () => Promise<Embedder | undefined>;

/** The part of `app.inference` this adapter uses (services/inference/types.ts). */
export type EmbeddingInference = Pick<InferenceApi, "resolveModel" | "embed">;

/**
 * Adapts `app.inference` into an EmbedderSource. The model is the one
 * `/v1/embeddings` uses without a name: `inference.embeddingModel` when it is
 * configured, else the first installed embedding model. Vectors are keyed by
 * the model's name and file hash, so replacing a model under the same name
 * re-embeds instead of mixing vector spaces. The dimensions are learned from
 * one probe per model. No embedding model (or one that fails) means "no
 * embedder now"; the next call tries again.
 */
export function embedderFromInference(inference: EmbeddingInference): EmbedderSource {
  let cached: Embedder | undefined;
  return async () => {
    try {
      const entry = inference.resolveModel("embedding");
      const model = `${entry.name}@${entry.sha256.slice(0, 12)}`;
      if (cached?.model === model) return cached;
      const name = entry.name;
      const probe = await inference.embed({ model: name, input: ["probe"] });
      const dims = probe.vectors[0]?.length ?? 0;
      if (dims === 0) return undefined;
      cached = {
        model,
        dims,
        embed: async (texts, signal) => (await inference.embed({ model: name, input: [...texts], ...(signal ? { signal } : {}) })).vectors,
      };
      return cached;
    } catch {
      return undefined;
    }
  };
}
