import { SovereignError } from "../../core/errors/SovereignError.js";
import type { EmbeddingWorker } from "./EmbeddingWorker.js";
import { hasFilters, type Memory, type MemoryFilters, type MemoryStore } from "./MemoryStore.js";

export type SearchMode = "hybrid" | "fts" | "vector";

export interface SearchOptions extends MemoryFilters {
  limit?: number;
  mode?: SearchMode;
  /** A precomputed query embedding (benchmarks measure search without the model). */
  queryVector?: Float32Array;
}

export interface SearchHit {
  memory: Memory;
  /** Reciprocal-rank-fusion score (higher is better). */
  score: number;
  /** 1-based rank on each side, when the memory was found there. */
  ftsRank?: number;
  vectorRank?: number;
  /** Cosine similarity, when the vector side found it. */
  similarity?: number;
}

export interface SearchResult {
  hits: SearchHit[];
  /** What actually ran: "hybrid" falls back to "fts" while no embedding model is available. */
  mode: SearchMode;
  vectorModel: string | null;
}

/** The usual RRF constant: damps the head of each list so neither side dominates. */
export const RRF_K = 60;

/**
 * Fuses ranked id lists by reciprocal rank: score(id) = Σ 1 / (RRF_K + rank).
 * Importance adds a small bonus, enough to order ties (corrections win).
 */
export function fuseByRank(lists: ReadonlyArray<readonly number[]>, importance: (id: number) => number = () => 0): Array<{ id: number; score: number }> {
  const scores = new Map<number, number>();
  for (const list of lists) {
    list.forEach((id, i) => scores.set(id, (scores.get(id) ?? 0) + 1 / (RRF_K + i + 1)));
  }
  return [...scores.entries()]
    .map(([id, s]) => ({ id, score: s + importance(id) / (RRF_K * 10) }))
    .sort((a, b) => b.score - a.score || a.id - b.id);
}

/**
 * Hybrid memory search: FTS5 BM25 and vector similarity, each filtered by
 * user, tags, source, kind and time, fused by reciprocal rank.
 */
export async function hybridSearch(store: MemoryStore, vectors: EmbeddingWorker, userId: string, query: string, options: SearchOptions = {}): Promise<SearchResult> {
  if (typeof query !== "string" || query.trim().length === 0) throw new SovereignError("MEMORY_QUERY_EMPTY");
  const limit = Math.min(Math.max(options.limit ?? 10, 1), 100);
  const depth = Math.max(50, limit * 4);
  const wanted = options.mode ?? "hybrid";
  const filters: MemoryFilters = options;

  const plan = wanted === "vector" ? [] : store.ftsPlan(query);
  const ftsIds = plan.length > 0 ? store.ftsSearch(userId, plan, filters, depth).map((h) => h.id) : [];

  const vec = wanted === "fts" ? undefined : vectors.current();
  let vecHits: Array<{ id: number; score: number }> = [];
  if (vec) {
    const q = options.queryVector ?? (await vec.embedder.embed([query]))[0];
    if (q && q.length === vec.index.dims) {
      const allowed = hasFilters(filters) ? store.filterIds(userId, filters) : undefined;
      vecHits = vec.index.search(q, depth, { userKey: vectors.userKey(userId), ...(allowed ? { allow: (id: number) => allowed.has(id) } : {}) });
    }
  }
  const mode: SearchMode = wanted === "hybrid" ? (vec ? "hybrid" : "fts") : wanted;

  const lists = mode === "fts" ? [ftsIds] : mode === "vector" ? [vecHits.map((h) => h.id)] : [ftsIds, vecHits.map((h) => h.id)];
  const candidates = fuseByRank(lists).slice(0, Math.max(limit * 2, 20));
  const rows = store.getMany(candidates.map((c) => c.id));
  const rescored = fuseByRank(lists, (id) => rows.get(id)?.importance ?? 0).filter((c) => rows.has(c.id)).slice(0, limit);

  const ftsRank = new Map(ftsIds.map((id, i) => [id, i + 1]));
  const vecRank = new Map(vecHits.map((h, i) => [h.id, { rank: i + 1, sim: h.score }]));
  const hits = rescored.map((c): SearchHit => {
    const hit: SearchHit = { memory: rows.get(c.id) as Memory, score: c.score };
    const f = ftsRank.get(c.id);
    if (f !== undefined) hit.ftsRank = f;
    const v = vecRank.get(c.id);
    if (v) {
      hit.vectorRank = v.rank;
      hit.similarity = v.sim;
    }
    return hit;
  });
  return { hits, mode, vectorModel: vec?.embedder.model ?? null };
}
