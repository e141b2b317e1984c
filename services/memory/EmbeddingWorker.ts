import { BinaryVectorIndex } from "./BinaryVectorIndex.js";
import type { Embedder, EmbedderSource } from "./Embedder.js";
import { ExactVectorIndex } from "./ExactVectorIndex.js";
import type { MemoryStore } from "./MemoryStore.js";
import type { VectorIndex } from "./VectorIndex.js";

export type VectorSearchKind = "exact" | "binary";

export interface EmbeddingWorkerOptions {
  store: MemoryStore;
  source: EmbedderSource;
  kind: VectorSearchKind;
  batchSize?: number;
  /** How often to look for a model (and a backlog) when idle, in ms. */
  pollMs?: number;
  /** Awaited before each batch: background embedding yields while a user waits on a generation (issue 19). */
  yieldTo?: (signal: AbortSignal) => Promise<void>;
  log?: { warn: (obj: object, msg: string) => void };
}

/**
 * Owns the vector side: finds the current embedder, keeps the in-memory index
 * of that model's vectors, and embeds memories in the background (new ones,
 * and the whole backlog when a model first appears or changes). Ingest never
 * waits for it: words are searchable as soon as a memory is committed.
 */
export class EmbeddingWorker {
  private embedder: Embedder | undefined;
  private index: VectorIndex | undefined;
  private readonly userKeys = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly controller = new AbortController();
  private lastError: string | undefined;

  constructor(private readonly options: EmbeddingWorkerOptions) {}

  userKey(userId: string): number {
    let k = this.userKeys.get(userId);
    if (k === undefined) {
      k = this.userKeys.size + 1;
      this.userKeys.set(userId, k);
    }
    return k;
  }

  /** The index of the current model, once one is loaded. */
  current(): { embedder: Embedder; index: VectorIndex } | undefined {
    return this.embedder && this.index ? { embedder: this.embedder, index: this.index } : undefined;
  }

  status(): { model: string | null; dims: number | null; indexed: number; pending: number; vectorSearch: VectorSearchKind; lastError: string | null } {
    return {
      model: this.embedder?.model ?? null,
      dims: this.embedder?.dims ?? null,
      indexed: this.index?.size ?? 0,
      pending: this.options.store.countPending(this.embedder?.model ?? null),
      vectorSearch: this.options.kind,
      lastError: this.lastError ?? null,
    };
  }

  start(): void {
    this.kick(0);
  }

  /** Asks for a pass soon (after an ingest). */
  kick(delayMs = 50): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.pass();
    }, delayMs);
    this.timer.unref();
  }

  /** Runs passes until no memory is waiting (tests and the CLI use it). */
  async drain(): Promise<void> {
    for (let i = 0; i < 100_000; i++) {
      await this.pass();
      if (!this.embedder || this.options.store.countPending(this.embedder.model) === 0) return;
    }
  }

  removeFromIndex(ids: readonly number[]): void {
    for (const id of ids) this.index?.remove(id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  private pass(): Promise<void> {
    this.running ??= this.doPass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async doPass(): Promise<void> {
    const { store } = this.options;
    let more = false;
    try {
      const embedder = await this.options.source();
      if (!embedder) {
        this.embedder = undefined;
        this.index = undefined;
        return;
      }
      if (!this.embedder || this.embedder.model !== embedder.model || this.embedder.dims !== embedder.dims) this.load(embedder);
      if (this.options.yieldTo && store.countPending(embedder.model) > 0) await this.options.yieldTo(this.controller.signal);
      const batch = store.pendingEmbeddings(embedder.model, this.options.batchSize ?? 32);
      if (batch.length > 0) {
        const vectors = await embedder.embed(
          batch.map((b) => b.text),
          this.controller.signal,
        );
        const memories = store.getMany(batch.map((b) => b.id));
        batch.forEach((b, i) => {
          const v = vectors[i];
          const m = memories.get(b.id);
          if (!v || !m || v.length !== embedder.dims) return;
          if (store.storeVector(b.id, embedder.model, v)) this.index?.upsert(b.id, this.userKey(m.userId), v);
        });
        more = batch.length > 0;
      }
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message;
      this.options.log?.warn({ err }, "background embedding failed; will retry");
    } finally {
      if (!this.stopped) this.kick(more ? 0 : (this.options.pollMs ?? 30_000));
    }
  }

  private load(embedder: Embedder): void {
    const index: VectorIndex =
      this.options.kind === "binary" ? new BinaryVectorIndex(embedder.dims, 1024) : new ExactVectorIndex(embedder.dims, 1024);
    for (const row of this.options.store.vectors(embedder.model)) {
      if (row.vector.length === embedder.dims) index.upsert(row.id, this.userKey(row.userId), row.vector);
    }
    this.embedder = embedder;
    this.index = index;
  }
}
