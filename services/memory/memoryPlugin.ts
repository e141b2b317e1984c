import fp from "fastify-plugin";
import { conversationRoutes } from "./conversationRoutes.js";
import { embedderFromInference } from "./Embedder.js";
import { MemoryService, memoryOptionsFromConfig } from "./MemoryService.js";
import { memoryMigrations } from "./migrations.js";
import { memoryRoutes } from "./memoryRoutes.js";
import { runSummarization, summarizerFromInference } from "./summarizeJob.js";
import "./errors.js";

declare module "fastify" {
  interface FastifyInstance {
    memory: MemoryService;
  }
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
      // Looked up on every pass: an embedding model may be installed later.
      embedder: embedderFromInference(app.inference),
      ...memoryOptionsFromConfig(config),
      onActivity: () => app.scheduler.markActivity(),
      yieldTo: (signal) => app.inference.whenIdle(signal),
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
          summarizerFromInference(app.inference),
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
  // Inference: embeddings and the summaries; auth: the users whose memories these are.
  { name: "sovereign-memory", dependencies: ["sovereign-context", "sovereign-db", "sovereign-scheduler", "sovereign-health", "sovereign-auth", "sovereign-inference"] },
);
