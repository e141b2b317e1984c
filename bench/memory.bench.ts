// Memory search at scale: 100k memories with 384-dim vectors in a real SQLite file.
// Measures ingest rate, bytes per memory, and query latency (p50/p95, excluding the query's
// embedding) for hybrid, FTS-only and vector-only search, with the vector side done three ways:
// exact scan over Float32Arrays, 1-bit codes + exact re-rank (the default), and sqlite-vec's vec0.
// Word search is also timed side by side: the planned query against a plain OR of every word.
// Run: npm run bench memory   (MEMORY_BENCH_N=20000 for a quicker pass)
import BetterSqlite3 from "better-sqlite3";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sqliteVec from "sqlite-vec";
import { Database } from "../services/db/Database.js";
import type { Embedder } from "../services/memory/Embedder.js";
import type { EmbeddingWorker } from "../services/memory/EmbeddingWorker.js";
import { toFtsQuery } from "../services/memory/ftsQuery.js";
import { hybridSearch, type SearchMode } from "../services/memory/hybridSearch.js";
import { MemoryService } from "../services/memory/MemoryService.js";
import { memoryMigrations } from "../services/memory/migrations.js";
import { normalize, type VectorHit, type VectorIndex } from "../services/memory/VectorIndex.js";
import { memorySettings } from "../services/memory/settings.js";
import { writeResult } from "./lib/writeResult.js";

const N = Number(process.env.MEMORY_BENCH_N ?? 100_000);
const DIMS = 384;
const QUERIES = Number(process.env.MEMORY_BENCH_QUERIES ?? 100);
const USER = "bench";

let seed = 42;
const rnd = (): number => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;

// A Zipf-like vocabulary, so FTS sees common and rare words as in real notes.
const vocab = Array.from({ length: 8000 }, (_, i) => `w${i.toString(36)}${"aeiou"[i % 5]}`);
const word = (): string => vocab[Math.floor(vocab.length * rnd() ** 2.5)] as string;
const sentence = (n: number): string => Array.from({ length: n }, word).join(" ");

// Clustered vectors (topics), so nearest neighbours are meaningful.
const centers = Array.from({ length: 500 }, () => Float32Array.from({ length: DIMS }, () => rnd() - 0.5));
function vectorNear(c: Float32Array, spread: number): Float32Array {
  return Float32Array.from(c, (x) => x + spread * (rnd() - 0.5));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
function stats(ms: number[]): { p50: number; p95: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { p50: r(percentile(s, 50)), p95: r(percentile(s, 95)), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

/** sqlite-vec's vec0 as a VectorIndex (a separate file, so the node's own database never needs the extension). */
class SqliteVecIndex implements VectorIndex {
  readonly dims = DIMS;
  private readonly db: BetterSqlite3.Database;
  private readonly knn: BetterSqlite3.Statement;
  constructor(path: string) {
    this.db = new BetterSqlite3(path);
    sqliteVec.load(this.db);
    this.db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS v USING vec0(user_key INTEGER PARTITION KEY, embedding float[${DIMS}] distance_metric=cosine)`);
    this.knn = this.db.prepare("SELECT rowid AS id, distance FROM v WHERE embedding MATCH ? AND k = ? AND user_key = ?");
  }
  get size(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM v").get() as { n: number }).n;
  }
  load(rows: Iterable<{ id: number; userKey: number; vector: Float32Array }>): void {
    const ins = this.db.prepare("INSERT INTO v (rowid, user_key, embedding) VALUES (?, ?, ?)");
    this.db.transaction(() => {
      for (const r of rows) ins.run(BigInt(r.id), BigInt(r.userKey), Buffer.from(normalize(r.vector).buffer));
    })();
  }
  upsert(): void {
    throw new Error("bench only");
  }
  remove(): void {
    throw new Error("bench only");
  }
  vectorOf(): undefined {
    return undefined;
  }
  search(query: Float32Array, k: number, filter: { userKey: number; allow?: (id: number) => boolean }): VectorHit[] {
    const rows = this.knn.all(Buffer.from(normalize(query).buffer), filter.allow ? k * 4 : k, BigInt(filter.userKey)) as Array<{ id: number; distance: number }>;
    return rows.filter((r) => !filter.allow || filter.allow(r.id)).slice(0, k).map((r) => ({ id: r.id, score: 1 - r.distance }));
  }
  close(): void {
    this.db.close();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "sovereign-membench-"));
  const dbPath = join(dir, "sovereign.db");
  const db = Database.open(dbPath, { cacheMb: 64 });
  db.migrate("memory", memoryMigrations);
  const benchEmbedder: Embedder = { model: "bench-384", dims: DIMS, embed: async (t) => t.map(() => vectorNear(centers[0] as Float32Array, 1)) };
  let modelReady = false;
  const make = (kind: "exact" | "binary") =>
    new MemoryService(db.sqlite, {
      embedder: async () => (modelReady ? benchEmbedder : undefined),
      vectorSearch: kind,
      maxDocumentBytes: 1 << 22,
      chunkChars: 1200,
      chunkOverlapChars: 200,
      shortTermTtlMs: 60_000,
      ragTokenBudget: 800,
    });
  const memory = make("exact");

  // Ingest: rows + tags + FTS5 index, committed in batches (the embedding model is excluded).
  const topics: number[] = [];
  const BATCH = 1000;
  let t0 = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => {
      topics.push(Math.floor(rnd() * centers.length));
      return { userId: USER, text: sentence(15 + Math.floor(rnd() * 45)), source: `doc${(i + j) % 200}`, tags: [`t${(i + j) % 50}`], createdAt: Date.now() - (N - i - j) * 1000 };
    });
    memory.store.insertMany(batch);
  }
  const ingestSeconds = (performance.now() - t0) / 1000;
  db.checkpoint("TRUNCATE");
  const bytesWithoutVectors = statSync(dbPath).size;

  // Vectors, as the background worker stores them.
  t0 = performance.now();
  const ids = (db.sqlite.prepare("SELECT id FROM memories ORDER BY id").raw().all() as Array<[number]>).map((r) => r[0]);
  const vectors = new Map<number, Float32Array>();
  db.sqlite.transaction(() => {
    ids.forEach((id, i) => {
      const v = vectorNear(centers[topics[i] as number] as Float32Array, 0.8);
      vectors.set(id, v);
      memory.store.storeVector(id, benchEmbedder.model, v);
    });
  })();
  const vectorStoreSeconds = (performance.now() - t0) / 1000;
  db.checkpoint("TRUNCATE");
  const bytesTotal = statSync(dbPath).size;

  // Load the in-memory indexes from the stored vectors (what a node start does).
  modelReady = true;
  t0 = performance.now();
  await memory.vectors.drain();
  const exactLoadSeconds = (performance.now() - t0) / 1000;
  const binary = make("binary");
  await binary.vectors.drain();
  const vec = new SqliteVecIndex(join(dir, "vec.db"));
  t0 = performance.now();
  vec.load([...vectors].map(([id, v]) => ({ id, userKey: memory.vectors.userKey(USER), vector: v })));
  const vecLoadSeconds = (performance.now() - t0) / 1000;
  const vecBytes = statSync(join(dir, "vec.db")).size;
  const vecWorker = {
    current: () => ({ embedder: benchEmbedder, index: vec }),
    userKey: (u: string) => memory.vectors.userKey(u),
  } as unknown as EmbeddingWorker;

  // Queries: a few words, and a vector near one topic (as a question's embedding would be).
  const queries = Array.from({ length: QUERIES + 10 }, () => ({ text: sentence(3), vector: vectorNear(centers[Math.floor(rnd() * centers.length)] as Float32Array, 0.8) }));
  async function measure(worker: EmbeddingWorker, mode: SearchMode, filters: { tags?: string[] } = {}): Promise<{ p50: number; p95: number; mean: number }> {
    const times: number[] = [];
    for (const [i, q] of queries.entries()) {
      const t = performance.now();
      await hybridSearch(memory.store, worker, USER, q.text, { mode, limit: 10, queryVector: q.vector, ...filters });
      if (i >= 10) times.push(performance.now() - t);
    }
    return stats(times);
  }
  // Word search two ways, side by side: the planned query (common words score but do not
  // match) against a plain OR of every word, with how much of the plain top 10 the plan keeps.
  function measureFts(plan: (text: string) => readonly string[]): { p50: number; p95: number; mean: number } {
    const times: number[] = [];
    for (const [i, q] of queries.entries()) {
      const t = performance.now();
      memory.store.ftsSearch(USER, plan(q.text), {}, 50);
      if (i >= 10) times.push(performance.now() - t);
    }
    return stats(times);
  }
  const plainOr = (text: string): string[] => [toFtsQuery(text) ?? ""];
  const ftsPlanned = measureFts((text) => memory.store.ftsPlan(text));
  const ftsPlainOr = measureFts(plainOr);
  let kept = 0;
  for (const q of queries) {
    const plain = memory.store.ftsSearch(USER, plainOr(q.text), {}, 10).map((h) => h.id);
    const planned = new Set(memory.store.ftsSearch(USER, memory.store.ftsPlan(q.text), {}, 10).map((h) => h.id));
    kept += plain.filter((id) => planned.has(id)).length / Math.max(plain.length, 1);
  }
  const exactWorker = memory.vectors;
  const binaryWorker = binary.vectors;
  const results = {
    memories: N,
    dims: DIMS,
    ingest: { memoriesPerSecond: Math.round(N / ingestSeconds), seconds: Math.round(ingestSeconds * 10) / 10, note: "rows + tags + FTS5, 1000 per transaction, synchronous=FULL; embedding excluded" },
    vectorStore: { vectorsPerSecond: Math.round(N / vectorStoreSeconds) },
    bytesPerMemory: { withVectors: Math.round(bytesTotal / N), withoutVectors: Math.round(bytesWithoutVectors / N), dbBytes: bytesTotal },
    indexLoadSeconds: { exact: Math.round(exactLoadSeconds * 10) / 10, sqliteVec: Math.round(vecLoadSeconds * 10) / 10 },
    sqliteVecFileBytes: vecBytes,
    queryMs: {
      fts: await measure(exactWorker, "fts"),
      ftsSideBySide: { planned: ftsPlanned, plainOr: ftsPlainOr, p95Ratio: Math.round((ftsPlainOr.p95 / ftsPlanned.p95) * 10) / 10, plainTop10Kept: Math.round((kept / queries.length) * 100) / 100 },
      hybrid: { exact: await measure(exactWorker, "hybrid"), binary: await measure(binaryWorker, "hybrid"), sqliteVec: await measure(vecWorker, "hybrid") },
      vector: { exact: await measure(exactWorker, "vector"), binary: await measure(binaryWorker, "vector"), sqliteVec: await measure(vecWorker, "vector") },
      hybridWithTagFilter: { exact: await measure(exactWorker, "hybrid", { tags: ["t7"] }), binary: await measure(binaryWorker, "hybrid", { tags: ["t7"] }) },
    },
    recallAt10VsExact: { binary: 0, sqliteVec: 0 },
    chosen: memorySettings.find((x) => x.key === "memory.vectorSearch")?.default as string,
  };
  let rb = 0;
  let rv = 0;
  const sample = queries.slice(0, 50);
  for (const q of sample) {
    const ref = (exactWorker.current()?.index.search(q.vector, 10, { userKey: 1 }) ?? []).map((h) => h.id);
    rb += (binaryWorker.current()?.index.search(q.vector, 10, { userKey: 1 }) ?? []).filter((h) => ref.includes(h.id)).length;
    rv += vec.search(q.vector, 10, { userKey: 1 }).filter((h) => ref.includes(h.id)).length;
  }
  results.recallAt10VsExact = { binary: rb / (sample.length * 10), sqliteVec: rv / (sample.length * 10) };
  console.log(JSON.stringify(results, null, 2));
  writeResult("memory", results);
  vec.close();
  await memory.stop();
  await binary.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
}

await main();
