/** One vector hit: a memory id and its cosine similarity to the query. */
export interface VectorHit {
  id: number;
  score: number;
}

/**
 * The vector side of hybrid search. Vectors are L2-normalized on the way in,
 * so the dot product is the cosine similarity.
 */
export interface VectorIndex {
  readonly dims: number;
  readonly size: number;
  upsert(id: number, userKey: number, vector: Float32Array): void;
  remove(id: number): void;
  /** The k best ids for this user whose `allow` predicate (if any) passes. */
  search(query: Float32Array, k: number, filter: { userKey: number; allow?: (id: number) => boolean }): VectorHit[];
  /** The stored (normalized) vector of an id, for re-ranking and compaction. */
  vectorOf(id: number): Float32Array | undefined;
}

export function normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] as number) * (v[i] as number);
  const n = Math.sqrt(s);
  const out = new Float32Array(v.length);
  if (n === 0) return out;
  for (let i = 0; i < v.length; i++) out[i] = (v[i] as number) / n;
  return out;
}

/** Keeps the k largest scores; small k, so insertion into a sorted array beats a heap. */
export class TopK {
  readonly ids: number[] = [];
  readonly scores: number[] = [];
  constructor(private readonly k: number) {}

  get floor(): number {
    return this.ids.length < this.k ? -Infinity : (this.scores[this.k - 1] as number);
  }

  push(id: number, score: number): void {
    if (this.k <= 0 || (this.ids.length >= this.k && score <= (this.scores[this.k - 1] as number))) return;
    let p = Math.min(this.ids.length, this.k - 1);
    if (this.ids.length < this.k) {
      this.ids.push(id);
      this.scores.push(score);
      p = this.ids.length - 1;
    }
    while (p > 0 && (this.scores[p - 1] as number) < score) {
      this.ids[p] = this.ids[p - 1] as number;
      this.scores[p] = this.scores[p - 1] as number;
      p--;
    }
    this.ids[p] = id;
    this.scores[p] = score;
  }

  hits(): VectorHit[] {
    return this.ids.map((id, i) => ({ id, score: this.scores[i] as number }));
  }
}
