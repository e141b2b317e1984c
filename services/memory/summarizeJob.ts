import { SovereignError } from "../../core/errors/SovereignError.js";
import type { InferenceApi } from "../inference/types.js";
import type { JobContext } from "../scheduler/Scheduler.js";
import type { MemoryService } from "./MemoryService.js";

/** What summarization needs from a language model. */
export interface Summarizer {
  summarize(transcript: string, signal: AbortSignal): Promise<string>;
}

const SYSTEM = "You write short, factual summaries of conversations.";
const PROMPT = (t: string): string =>
  `Summarize the conversation below in at most five sentences. Keep facts, decisions, names and the user's preferences; leave out greetings.\n\n${t}`;

type SummaryInference = Pick<InferenceApi, "generate" | "models"> & Partial<Pick<InferenceApi, "whenIdle">>;

/**
 * Adapts `app.inference.generate` into a Summarizer, or undefined when no chat
 * model is installed. The request goes through the inference queue like any
 * generation (not through chat: nothing is stored). A transcript too long for
 * the model's context is cut from its start (the newest part is kept) and tried again.
 */
export function summarizerFromInference(inf: SummaryInference): Summarizer | undefined {
  return inf.models().some((m) => m.kind === "llm") ? summarizerFrom(inf) : undefined;
}

export function summarizerFrom(inf: SummaryInference, options: { maxTokens?: number } = {}): Summarizer {
  return {
    summarize: async (transcript, signal) => {
      let text = transcript;
      let maxTokens = options.maxTokens ?? 256;
      for (let attempt = 0; ; attempt++) {
        try {
          // A background job: wait until nobody waits on a generation, then queue behind any who arrive.
          await inf.whenIdle?.(signal);
          const out = await inf.generate({
            messages: [{ role: "system", content: SYSTEM }, { role: "user", content: PROMPT(text) }],
            sampling: { maxTokens, temperature: 0.2 },
            background: true,
            signal,
          });
          if (out.finishReason === "abort") throw new Error("summarization was aborted");
          return out.text.trim();
        } catch (err) {
          if (!(err instanceof SovereignError) || err.code !== "CONTEXT_LENGTH_EXCEEDED" || attempt >= 8) throw err;
          if (text.length > 400) text = text.slice(Math.floor(text.length / 2));
          else if (maxTokens > 16) maxTokens = Math.floor(maxTokens / 2);
          else throw err;
        }
      }
    },
  };
}

export interface SummarizeOptions {
  /** A conversation quiet for this long is due. */
  afterMs: number;
  /** Transcript characters given to the model (the end of long conversations). */
  maxTranscriptChars?: number;
  /** Cosine similarity above which two memories count as near-duplicates. */
  duplicateSimilarity?: number;
  now?: () => number;
}

export interface SummarizeReport {
  summarized: number;
  failed: number;
  remaining: number;
  model: boolean;
  compacted: { exact: number; near: number };
  stoppedBy: "done" | "deadline" | "aborted";
}

/**
 * The night-time job: summarize quiet conversations into long-term memories,
 * then compact near-duplicate memories. Each conversation and each merge
 * commits on its own, so a run cut short by its time bound (or a restart)
 * resumes with what is left.
 */
export async function runSummarization(memory: MemoryService, summarizer: Summarizer | undefined, ctx: Pick<JobContext, "signal" | "deadline">, options: SummarizeOptions): Promise<SummarizeReport> {
  const now = options.now ?? Date.now;
  const conversations = memory.conversations;
  const report: SummarizeReport = { summarized: 0, failed: 0, remaining: 0, model: summarizer !== undefined, compacted: { exact: 0, near: 0 }, stoppedBy: "done" };
  const stop = (): "deadline" | "aborted" | undefined => (ctx.signal.aborted ? "aborted" : now() >= ctx.deadline ? "deadline" : undefined);
  const cutoff = now() - options.afterMs;

  if (summarizer) {
    let skip = 0;
    for (;;) {
      const why = stop();
      if (why) {
        report.stoppedBy = why;
        break;
      }
      const conv = conversations.dueForSummary(cutoff, skip);
      if (!conv) break;
      try {
        const messages = conversations.messages(conv.userId, conv.id).filter((m) => m.role === "user" || m.role === "assistant");
        if (messages.length === 0) {
          conversations.markSummarized(conv.id, now());
          continue;
        }
        let transcript = messages.map((m) => `${m.role}: ${m.content}`).join("\n");
        const max = options.maxTranscriptChars ?? 6000;
        if (transcript.length > max) transcript = transcript.slice(transcript.length - max);
        // A model may emit control bytes (a small or damaged one does); keep the words.
        const summary = withoutControlChars(await summarizer.summarize(transcript, ctx.signal)).trim();
        if (!summary) throw new Error("empty summary");
        const prev = conversations.summaryMemoryOf(conv.id);
        const added = memory.add(conv.userId, {
          text: `Summary of the conversation "${conv.title}": ${summary}`,
          source: `conversation:${conv.id}`,
          kind: "summary",
          tags: ["summary"],
          importance: 0.6,
          chunk: false,
        });
        // The new summary replaces the old one in one transaction.
        memory.db.transaction(() => {
          conversations.markSummarized(conv.id, now(), added.ids[0] ?? null);
          if (prev !== null) memory.store.delete(conv.userId, [prev]);
        })();
        if (prev !== null) memory.vectors.removeFromIndex([prev]);
        report.summarized++;
      } catch (err) {
        if (ctx.signal.aborted) {
          report.stoppedBy = "aborted";
          break;
        }
        report.failed++;
        skip++; // leave it for the next run, go on with the others
        memory.episodes.record("summarize-failed", `could not summarize conversation ${conv.id}: ${(err as Error).message}`, { conversationId: conv.id }, conv.userId);
      }
    }
  }
  report.remaining = conversations.countDueForSummary(cutoff);

  if (!stop()) report.compacted.exact = compactExactDuplicates(memory);
  if (!stop()) report.compacted.near = compactNearDuplicates(memory, options.duplicateSimilarity ?? 0.97, stop);
  const why = stop();
  if (why && report.stoppedBy === "done") report.stoppedBy = why;
  return report;
}

/** Drops C0 control characters (NUL included) and DEL, keeping newlines and tabs. */
export function withoutControlChars(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, "");
}

/** Merges memories of one user whose text is the same after normalizing case and spaces. */
export function compactExactDuplicates(memory: MemoryService): number {
  let merged = 0;
  for (const g of memory.store.exactDuplicateGroups()) merged += mergeInto(memory, g.userId, g.ids);
  return merged;
}

/**
 * Merges near-duplicates found by the vector index among memories added since
 * the last compaction (a watermark in the memory service's state makes the work resumable).
 */
export function compactNearDuplicates(memory: MemoryService, threshold: number, stop: () => string | undefined): number {
  const vec = memory.vectors.current();
  if (!vec) return 0;
  const key = `compaction.watermark.${vec.embedder.model}`;
  const mark = Number(memory.store.getState(key) ?? 0);
  const rows = memory.store.withVectorsAfter(mark, vec.embedder.model, 5000);
  let merged = 0;
  let last = mark;
  for (const r of rows) {
    if (stop()) break;
    last = r.id;
    const v = vec.index.vectorOf(r.id);
    if (!v) continue;
    const hits = vec.index.search(v, 4, { userKey: memory.vectors.userKey(r.userId) }).filter((h) => h.id !== r.id && h.score >= threshold);
    if (hits.length === 0) continue;
    const docs = memory.store.getMany(hits.map((h) => h.id));
    // Overlapping chunks of one document are meant to be similar; leave them.
    const dupes = hits.map((h) => h.id).filter((id) => r.documentId === null || docs.get(id)?.documentId !== r.documentId);
    if (dupes.length > 0) merged += mergeInto(memory, r.userId, [r.id, ...dupes]);
  }
  memory.store.setState(key, String(last));
  return merged;
}

/** Keeps the oldest memory of the group with the highest importance and all tags; deletes the rest. */
function mergeInto(memory: MemoryService, userId: string, ids: number[]): number {
  const rows = [...memory.store.getMany(ids).values()].filter((m) => m.userId === userId).sort((a, b) => a.id - b.id);
  const keep = rows[0];
  if (!keep || rows.length < 2) return 0;
  const others = rows.slice(1);
  const tags = [...new Set(rows.flatMap((m) => m.tags))];
  const importance = Math.max(...rows.map((m) => m.importance));
  memory.db.transaction(() => {
    memory.store.update(userId, keep.id, { tags, importance });
    memory.store.delete(userId, others.map((m) => m.id));
  })();
  memory.vectors.removeFromIndex(others.map((m) => m.id));
  memory.episodes.record("compaction", `merged ${others.length} duplicate(s) into memory ${keep.id}`, { kept: keep.id, removed: others.map((m) => m.id) }, userId);
  return others.length;
}
