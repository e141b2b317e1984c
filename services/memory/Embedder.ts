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

type Vectorish = Float32Array | readonly number[];

interface InferenceLike {
  /** Preferred: an object that already satisfies Embedder (or a function returning one). */
  embedder?: unknown;
  embed?: (texts: string[], options?: { signal?: AbortSignal }) => Promise<unknown>;
  embeddingModel?: unknown;
  embeddingModelId?: unknown;
}

function toVectors(result: unknown): Float32Array[] {
  const list = Array.isArray(result) ? result : (result as { vectors?: unknown; embeddings?: unknown; data?: unknown } | null)?.vectors ??
    (result as { embeddings?: unknown } | null)?.embeddings ??
    (result as { data?: unknown } | null)?.data;
  if (!Array.isArray(list)) throw new Error("embed() returned no vector list");
  return list.map((v: unknown) => {
    const raw = (v as { embedding?: unknown })?.embedding ?? v;
    if (raw instanceof Float32Array) return raw;
    if (Array.isArray(raw) || ArrayBuffer.isView(raw)) return Float32Array.from(raw as Vectorish);
    throw new Error("embed() returned something that is not a vector");
  });
}

function modelName(inf: InferenceLike): string {
  const m = inf.embeddingModel;
  if (typeof inf.embeddingModelId === "string") return inf.embeddingModelId;
  if (typeof m === "string") return m;
  if (m && typeof m === "object" && typeof (m as { id?: unknown }).id === "string") return (m as { id: string }).id;
  return "default";
}

function isEmbedder(x: unknown): x is Embedder {
  const e = x as Partial<Embedder> | null;
  return !!e && typeof e.embed === "function" && typeof e.model === "string" && typeof e.dims === "number";
}

/**
 * Adapts whatever the inference service decorates (`app.inference`) into an
 * EmbedderSource, softly: an `embedder` object is used as is; a bare
 * `embed(texts)` is probed once per model name to learn the dimensions. Any
 * failure means "no embedder now", and the next call tries again.
 */
export function embedderFromInference(inference: unknown): EmbedderSource {
  let cached: Embedder | undefined;
  return async () => {
    const inf = inference as InferenceLike | null;
    if (!inf) return undefined;
    try {
      const e = typeof inf.embedder === "function" ? await (inf.embedder as () => unknown)() : inf.embedder;
      if (isEmbedder(e)) return e;
      if (typeof inf.embed !== "function") return undefined;
      const model = modelName(inf);
      if (cached && cached.model === model) return cached;
      const embedFn = inf.embed.bind(inf);
      const probe = toVectors(await embedFn(["probe"]));
      const dims = probe[0]?.length ?? 0;
      if (dims === 0) return undefined;
      cached = { model, dims, embed: async (texts, signal) => toVectors(await embedFn([...texts], signal ? { signal } : undefined)) };
      return cached;
    } catch {
      return undefined;
    }
  };
}
