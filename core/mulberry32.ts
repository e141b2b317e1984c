/**
 * mulberry32: a small, fast, deterministic PRNG returning floats in [0, 1).
 * Generated test models, the hashing embedder and the fuzzer all need
 * replayable randomness from a seed; none of them needs cryptographic quality.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
