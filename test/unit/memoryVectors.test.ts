import { describe, expect, it } from "vitest";
import { BinaryVectorIndex } from "../../services/memory/BinaryVectorIndex.js";
import { ExactVectorIndex } from "../../services/memory/ExactVectorIndex.js";
import { fuseByRank } from "../../services/memory/hybridSearch.js";
import { normalize } from "../../services/memory/VectorIndex.js";

/** Deterministic clustered vectors, like embeddings of texts on a few hundred topics. */
function dataset(n: number, dims: number, clusters: number, seed = 1): Float32Array[] {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  const centers = Array.from({ length: clusters }, () => Float32Array.from({ length: dims }, rnd));
  return Array.from({ length: n }, (_, i) => {
    const c = centers[i % clusters] as Float32Array;
    return Float32Array.from({ length: dims }, (_, j) => (c[j] as number) + 0.5 * rnd());
  });
}

describe("vector indexes", () => {
  const dims = 384;
  const vectors = dataset(5000, dims, 100);

  it("exact search returns the true top-k by cosine, per user, with filters", () => {
    const index = new ExactVectorIndex(dims, 16);
    vectors.forEach((v, i) => index.upsert(i + 1, i % 2 === 0 ? 1 : 2, v));
    const q = vectors[10] as Float32Array;
    const hits = index.search(q, 10, { userKey: 1 });
    // Brute-force reference.
    const nq = normalize(q);
    const ref = vectors
      .map((v, i) => ({ id: i + 1, user: i % 2 === 0 ? 1 : 2, s: normalize(v).reduce((a, x, j) => a + x * (nq[j] as number), 0) }))
      .filter((r) => r.user === 1)
      .sort((a, b) => b.s - a.s)
      .slice(0, 10);
    expect(hits.map((h) => h.id)).toEqual(ref.map((r) => r.id));
    expect(hits[0]?.id).toBe(11);
    expect(hits[0]?.score).toBeCloseTo(1, 5);
    const filtered = index.search(q, 5, { userKey: 1, allow: (id) => id % 4 === 1 });
    expect(filtered.every((h) => h.id % 4 === 1)).toBe(true);
    expect(index.search(q, 5, { userKey: 3 })).toEqual([]);
  });

  it("removal keeps the index dense and correct", () => {
    const index = new ExactVectorIndex(dims, 4);
    vectors.slice(0, 50).forEach((v, i) => index.upsert(i + 1, 1, v));
    index.remove(11);
    index.remove(50);
    expect(index.size).toBe(48);
    expect(index.search(vectors[10] as Float32Array, 50, { userKey: 1 }).map((h) => h.id)).not.toContain(11);
    expect(index.vectorOf(49)).toEqual(normalize(vectors[48] as Float32Array));
    index.upsert(11, 1, vectors[10] as Float32Array);
    expect(index.search(vectors[10] as Float32Array, 1, { userKey: 1 })[0]?.id).toBe(11);
  });

  it("the approximate (binary + exact re-rank) path agrees with exact search", () => {
    const exact = new ExactVectorIndex(dims);
    const approx = new BinaryVectorIndex(dims, 8, 10);
    vectors.forEach((v, i) => {
      exact.upsert(i + 1, 1, v);
      approx.upsert(i + 1, 1, v);
    });
    approx.remove(3);
    exact.remove(3);
    // Queries near the data (as questions about stored topics are), not random directions.
    const noise = dataset(50, dims, 50, 99);
    const queries = noise.map((n, i) => Float32Array.from(vectors[i * 97] as Float32Array, (x, j) => x + 0.5 * (n[j] as number)));
    let overlap = 0;
    for (const q of queries) {
      const all = new Map(exact.search(q, 5000, { userKey: 1 }).map((h) => [h.id, h.score]));
      const e = exact.search(q, 10, { userKey: 1 }).map((h) => h.id);
      const a = approx.search(q, 10, { userKey: 1 });
      overlap += a.filter((h) => e.includes(h.id)).length;
      // Scores are true cosines, so whatever it returns is ranked like exact search would.
      for (const h of a) expect(h.score).toBeCloseTo(all.get(h.id) ?? NaN, 5);
    }
    const recall = overlap / (queries.length * 10);
    expect(recall).toBeGreaterThanOrEqual(0.9);
  });
});

describe("fuseByRank", () => {
  it("rewards ids found by both sides and breaks ties by importance", () => {
    const fused = fuseByRank([
      [1, 2, 3],
      [3, 4, 1],
    ]);
    expect(fused.slice(0, 2).map((f) => f.id).sort()).toEqual([1, 3]);
    const tie = fuseByRank([[5], [6]], (id) => (id === 6 ? 1 : 0));
    expect(tie[0]?.id).toBe(6);
  });
});
