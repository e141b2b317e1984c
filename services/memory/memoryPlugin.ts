import fp from "fastify-plugin";
import type { FastifyInstance } from "fastify";
import { conversationRoutes } from "./conversationRoutes.js";
import { embedderFromInference, type EmbedderSource, type EmbeddingInference } from "./Embedder.js";
import { MemoryService, memoryOptionsFromConfig } from "./MemoryService.js";
import { memoryMigrations } from "./migrations.js";
import { memoryRoutes } from "./memoryRoutes.js";
import { runSummarization, summarizerFromApp } from "./summarizeJob.js";
import "./errors.js";

declare module "fastify" {
  interface FastifyInstance {
    memory: MemoryService;
  }
}

/**
 * The embedder is looked up on every pass, not at load: the inference
 * service may load after memory or get its embedding model later.
 */
function softEmbedder(app: FastifyInstance): EmbedderSource {
  let adapted: { target: EmbeddingInference; source: EmbedderSource } | undefined;
  return async () => {
    if (!app.hasDecorator("inference")) return undefined;
    const target = (app as unknown as { inference?: Partial<EmbeddingInference> }).inference;
    if (!target || typeof target.resolveModel !== "function" || typeof target.embed !== "function") return undefined;
    if (adapted?.target !== target) adapted = { target: target as EmbeddingInference, source: embedderFromInference(target as EmbeddingInference) };
    return adapted.source();
  };
}

/**
 * The memory service: conversations, long-term memories with hybrid search,
 * RAG context, feedback, short-term and episodic memory, and the night-time
 * summarization job.
 */
export const memoryPlugin = fp(
  async (app) => {
    const config = app.config;
    app.db.migrate("memory", memoryMigrations);
    const memory = new MemoryService(app.db.sqlite, {
      embedder: softEmbedder(app),
      ...memoryOptionsFromConfig(config),
      onActivity: () => app.scheduler.markActivity(),
      log: app.log,
    });
    app.decorate("memory", memory);

    // Episodic memory: what the node did and when.
    app.scheduler.onRunFinished((run) => {
      if (run.job === "db-checkpoint") return; // every five minutes; its history is in job_runs
      memory.episodes.record("job-run", `job ${run.job} ${run.outcome}${run.error ? `: ${run.error}` : ""}`, { runId: run.id, job: run.job, outcome: run.outcome });
    });

    const windows = app.tuning.jobWindows.value;
    app.scheduler.register({
      name: "memory-summarize",
      schedule: config["memory.summarizeSchedule"] ?? windows.summarize,
      description: "Summarizes quiet conversations into long-term memories and merges near-duplicate memories.",
      onlyWhenIdle: true,
      timeoutMs: config["memory.summarizeMaxMinutes"] * 60_000 + 60_000,
      run: (ctx) =>
        runSummarization(
          memory,
          summarizerFromApp(app),
          { signal: ctx.signal, deadline: Math.min(ctx.deadline, Date.now() + config["memory.summarizeMaxMinutes"] * 60_000) },
          { afterMs: config["memory.summarizeAfterHours"] * 3_600_000 },
        ),
    });
    app.scheduler.register({
      name: "memory-expire",
      schedule: "*/15 * * * *",
      description: "Deletes expired short-term memory.",
      timeoutMs: 60_000,
      run: () => ({ expired: memory.shortTerm.purgeExpired() }),
    });

    app.health.register({
      name: "memory",
      liveness: false,
      check: () => {
        const s = memory.vectors.status();
        return { ok: true, detail: s.model ? `${s.indexed} vectors (${s.model}), ${s.pending} to embed` : "no embedding model: word search only" };
      },
    });

    const maxDocumentBytes = config["memory.maxDocumentBytes"];
    await app.register(memoryRoutes, { memory, maxDocumentBytes });
    await app.register(conversationRoutes, { memory, maxDocumentBytes });

    app.addHook("onReady", async () => memory.start());
    app.addHook("preClose", async () => memory.stop());
  },
  { name: "sovereign-memory", dependencies: ["sovereign-context", "sovereign-db", "sovereign-scheduler", "sovereign-health"] },
);
