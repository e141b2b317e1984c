import { createHash } from "node:crypto";
import type { Embedder } from "./Embedder.js";
import { ftsTerms } from "./ftsQuery.js";
import { mulberry32 } from "../../core/mulberry32.js";

/**
 * A deterministic stand-in embedder for tests and benchmarks: each word adds
 * a pseudo-random unit direction, so texts sharing words are similar. It has
 * no semantic knowledge and is never used in production.
 */
export class HashingEmbedder implements Embedder {
  readonly model: string;
  private readonly cache = new Map<string, Float32Array>();

  constructor(readonly dims = 384, model = "hashing-test") {
    this.model = `${model}-${dims}`;
  }

  embedSync(text: string): Float32Array {
    const out = new Float32Array(this.dims);
    for (const word of ftsTerms(text)) {
      const w = this.wordVector(word);
      for (let i = 0; i < this.dims; i++) out[i] = (out[i] as number) + (w[i] as number);
    }
    return out;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedSync(t));
  }

  private wordVector(word: string): Float32Array {
    let v = this.cache.get(word);
    if (v) return v;
    v = new Float32Array(this.dims);
    // Seeded by the word's hash: cheap, deterministic, well spread.
    const next = mulberry32(createHash("sha256").update(word).digest().readUInt32LE(0));
    for (let i = 0; i < this.dims; i++) v[i] = next() - 0.5;
    if (this.cache.size < 100_000) this.cache.set(word, v);
    return v;
  }
}
