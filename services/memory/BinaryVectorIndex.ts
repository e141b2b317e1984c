import { ExactVectorIndex } from "./ExactVectorIndex.js";
import { normalize, TopK, type VectorHit } from "./VectorIndex.js";

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) as number;
}

/**
 * Approximate vector search: a 1-bit code per dimension (the sign) is
 * scanned by Hamming distance, and the best `oversample × k` candidates are
 * re-scored exactly. Keeps the exact vectors, so results carry true cosine
 * scores; only recall can be lower than the exact index's.
 */
export class BinaryVectorIndex extends ExactVectorIndex {
  private codes: Uint32Array;
  private readonly words: number;

  constructor(dims: number, initialCapacity = 1024, private readonly oversample = 20) {
    super(dims, initialCapacity);
    this.words = Math.ceil(dims / 32);
    this.codes = new Uint32Array(initialCapacity * this.words);
  }

  override search(query: Float32Array, k: number, filter: { userKey: number; allow?: (id: number) => boolean }): VectorHit[] {
    const q = normalize(query);
    const w = this.words;
    const qc = new Uint32Array(w);
    for (let j = 0; j < this.dims; j++) if ((q[j] as number) > 0) qc[j >> 5] = (qc[j >> 5] as number) | (1 << (j & 31));
    const coarse = new TopK(k * this.oversample);
    const { users, ids, codes } = this;
    for (let slot = 0; slot < this.count; slot++) {
      if (users[slot] !== filter.userKey) continue;
      let h = 0;
      const o = slot * w;
      for (let i = 0; i < w; i++) h += popcount((codes[o + i] as number) ^ (qc[i] as number));
      const score = -h;
      if (score <= coarse.floor) continue;
      if (filter.allow && !filter.allow(ids[slot] as number)) continue;
      coarse.push(slot, score);
    }
    const top = new TopK(k);
    for (const slot of coarse.ids) top.push(ids[slot] as number, this.dotAt(slot, q));
    return top.hits();
  }

  protected override onWrite(slot: number, v: Float32Array): void {
    const o = slot * this.words;
    this.codes.fill(0, o, o + this.words);
    for (let j = 0; j < this.dims; j++) if ((v[j] as number) > 0) this.codes[o + (j >> 5)] = (this.codes[o + (j >> 5)] as number) | (1 << (j & 31));
  }

  protected override onMove(from: number, to: number): void {
    this.codes.copyWithin(to * this.words, from * this.words, (from + 1) * this.words);
  }

  protected override onGrow(capacity: number): void {
    // Called from the base constructor before `codes` exists.
    if (!this.codes) return;
    const codes = new Uint32Array(capacity * this.words);
    codes.set(this.codes.subarray(0, this.count * this.words));
    this.codes = codes;
  }
}
