import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Database } from "../../services/db/Database.js";
import type { Embedder } from "../../services/memory/Embedder.js";
import { HashingEmbedder } from "../../services/memory/HashingEmbedder.js";
import { MemoryService } from "../../services/memory/MemoryService.js";
import { memoryMigrations } from "../../services/memory/migrations.js";
import { runSummarization, type Summarizer } from "../../services/memory/summarizeJob.js";

let dir: string;
let db: Database;
let embedder: Embedder | undefined;
let memory: MemoryService;

function service(kind: "exact" | "binary" = "exact"): MemoryService {
  return new MemoryService(db.sqlite, {
    embedder: async () => embedder,
    vectorSearch: kind,
    maxDocumentBytes: 1_000_000,
    chunkChars: 400,
    chunkOverlapChars: 50,
    shortTermTtlMs: 60_000,
    ragTokenBudget: 500,
  });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sovereign-memsearch-"));
  db = Database.open(join(dir, "sovereign.db"));
  db.migrate("memory", memoryMigrations);
  embedder = new HashingEmbedder(64);
  memory = service();
});
afterEach(async () => {
  await memory.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("hybrid search over a real database", () => {
  it("fuses word and vector hits, keeps users apart and applies filters to both sides", async () => {
    memory.add("alice", { text: "Alpine lakes freeze in January", tags: ["nature"], source: "notes" });
    memory.add("alice", { text: "The cellar freezer holds bread", tags: ["house"], source: "list" });
    memory.add("bob", { text: "Alpine lakes are cold", source: "notes" });
    await memory.vectors.drain();
    expect(memory.vectors.status()).toMatchObject({ indexed: 3, pending: 0 });

    const r = await memory.search("alice", "alpine lakes");
    expect(r.mode).toBe("hybrid");
    expect(r.hits[0]?.memory.text).toBe("Alpine lakes freeze in January");
    expect(r.hits[0]).toMatchObject({ ftsRank: 1, vectorRank: 1 });
    expect(r.hits.every((h) => h.memory.userId === "alice")).toBe(true);

    const vec = await memory.search("alice", "alpine lakes", { mode: "vector", tags: ["house"] });
    expect(vec.hits.map((h) => h.memory.tags)).toEqual([["house"]]);
    const fts = await memory.search("alice", "alpine", { mode: "fts", source: "list" });
    expect(fts.hits).toEqual([]);
  });

  it("is word-only without a model, and embeds the backlog when a model appears", async () => {
    embedder = undefined;
    memory.add("u", { text: "written while no model was installed" });
    await memory.vectors.drain();
    const before = await memory.search("u", "installed model");
    expect(before.mode).toBe("fts");
    expect(before.hits).toHaveLength(1);
    embedder = new HashingEmbedder(64);
    await memory.vectors.drain();
    expect(memory.vectors.status()).toMatchObject({ indexed: 1, pending: 0 });
    expect((await memory.search("u", "installed model")).mode).toBe("hybrid");
    // A restart loads the stored vectors instead of embedding again.
    await memory.stop();
    memory = service("binary");
    await memory.vectors.drain();
    expect(memory.vectors.status()).toMatchObject({ indexed: 1, pending: 0, vectorSearch: "binary" });
  });

  it("retrieves a correction for a similar later question and cites it", async () => {
    memory.add("u", { text: "Ovens are hot. Bread bakes at high heat." });
    const { memoryId } = memory.feedback("u", { question: "At what temperature does sourdough bread bake?", answer: "100 C", rating: "down", correction: "Sourdough bakes at 230 C." });
    await memory.vectors.drain();
    const ctx = await memory.retrieveContext("sourdough bread temperature", { userId: "u", tokenBudget: 300 });
    expect(ctx.citations[0]).toBe(memoryId);
    expect(ctx.text).toContain("230 C");
    expect(ctx.tokens).toBeLessThanOrEqual(300);
    expect(await memory.retrieveContext("   ", { userId: "u" })).toEqual({ text: "", citations: [], tokens: 0 });
  });
});

describe("word search in a large store", () => {
  // Every memory says "the" and "note"; 30 say "lake". Above COMMON_MIN_DOCS the
  // common words stop matching on their own but still order the results.
  function fill(): void {
    const rows = Array.from({ length: 2500 }, (_, i) => ({
      userId: "alice",
      text: i % 100 === 7 ? `the note about the lake number ${i}` : `the note number ${i} about filler words`,
      source: "bulk",
    }));
    memory.store.insertMany(rows);
    memory.store.insertMany([
      { userId: "alice", text: "lake stone walk", source: "pair" },
      { userId: "alice", text: "lake note walk", source: "pair" },
    ]);
  }

  it("matches by the rare word, and the common words order what it matched", async () => {
    fill();
    // The index's own counts mark "the" and "note" as common (a planned query, not a plain OR).
    expect(memory.store.ftsPlan("the note lake")).toEqual(['("lake") OR (("lake") AND ("the" OR "note"))', '"the" AND "note"']);
    const r = await memory.search("alice", "the note lake", { mode: "fts", limit: 40 });
    const texts = r.hits.map((h) => h.memory.text);
    // Exactly the 27 memories with "lake": common words alone no longer match.
    expect(texts).toHaveLength(27);
    expect(texts.every((t) => t.includes("lake"))).toBe(true);
    // Same length, same "lake": the one that also says "note" ranks higher.
    expect(texts.indexOf("lake note walk")).toBeLessThan(texts.indexOf("lake stone walk"));
  });

  it("falls back to memories holding every common word when the rare word matches nothing", async () => {
    fill();
    const r = await memory.search("alice", "the note zyzzyva", { mode: "fts", limit: 10 });
    expect(r.hits).toHaveLength(10);
    expect(r.hits.every((h) => /\bthe\b/.test(h.memory.text) && /\bnote\b/.test(h.memory.text))).toBe(true);
    const onlyCommon = await memory.search("alice", "the note", { mode: "fts", limit: 10 });
    expect(onlyCommon.hits).toHaveLength(10);
  });

  it("stays correct while its word counts are stale", async () => {
    fill();
    expect((await memory.search("alice", "heron", { mode: "fts" })).hits).toEqual([]);
    memory.add("alice", { text: "a heron stood in the lake", source: "notes" });
    expect((await memory.search("alice", "heron the", { mode: "fts" })).hits[0]?.memory.text).toBe("a heron stood in the lake");
  });
});

describe("night-time summarization", () => {
  const summarizer: Summarizer = { summarize: async (t) => `talked about ${t.split("\n")[0]?.slice(6, 40)}` };

  it("summarizes quiet conversations into memories, resumes after its time bound, and compacts duplicates", async () => {
    for (let i = 0; i < 3; i++) {
      const c = memory.conversations.create("u", `chat ${i}`);
      memory.conversations.append("u", c.id, [
        { role: "user", content: `question number ${i} about gardening` },
        { role: "assistant", content: "an answer" },
      ]);
    }
    memory.add("u", { text: "Duplicate   note about bees" });
    memory.add("u", { text: "duplicate note about bees", tags: ["bees"], importance: 0.8 });
    const controller = new AbortController();
    // A deadline already passed: nothing is done, everything remains for the next run.
    const first = await runSummarization(memory, summarizer, { signal: controller.signal, deadline: Date.now() - 1 }, { afterMs: 0, now: () => Date.now() + 1000 });
    expect(first).toMatchObject({ summarized: 0, remaining: 3, stoppedBy: "deadline" });
    const second = await runSummarization(memory, summarizer, { signal: controller.signal, deadline: Date.now() + 60_000 }, { afterMs: 0, now: () => Date.now() + 1000 });
    expect(second).toMatchObject({ summarized: 3, remaining: 0, failed: 0, stoppedBy: "done", compacted: { exact: 1 } });
    const hits = await memory.search("u", "gardening", { kind: "summary" });
    expect(hits.hits).toHaveLength(3);
    const bees = await memory.search("u", "bees");
    expect(bees.hits).toHaveLength(1);
    expect(bees.hits[0]?.memory).toMatchObject({ tags: ["bees"], importance: 0.8 });
    // Nothing new: the next run does nothing.
    const third = await runSummarization(memory, summarizer, { signal: controller.signal, deadline: Date.now() + 60_000 }, { afterMs: 0, now: () => Date.now() + 1000 });
    expect(third.summarized).toBe(0);
  });

  it("without a model only compacts, and records what it did", async () => {
    const c = memory.conversations.create("u", "chat");
    memory.conversations.append("u", c.id, [{ role: "user", content: "hello" }]);
    const r = await runSummarization(memory, undefined, { signal: new AbortController().signal, deadline: Date.now() + 60_000 }, { afterMs: 0, now: () => Date.now() + 1000 });
    expect(r).toMatchObject({ model: false, summarized: 0, remaining: 1 });
  });
});
