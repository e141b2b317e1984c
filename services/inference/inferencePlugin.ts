import fp from "fastify-plugin";
import { ModelRegistry } from "./ModelRegistry.js";
import { RequestQueue } from "./RequestQueue.js";
import { InferenceService, defaultModelsDir } from "./InferenceService.js";
import { openaiRoutes } from "./routes/openaiRoutes.js";
import { modelRoutes } from "./routes/modelRoutes.js";
import { registerModelIntegrityJob } from "./modelIntegrityJob.js";
import { RunnerHost } from "./runner/RunnerHost.js";
import { InProcessHost } from "./InProcessHost.js";
import type { InferenceApi } from "./types.js";
import "./errors.js";

declare module "fastify" {
  interface FastifyInstance {
    inference: InferenceApi;
  }
}

/**
 * services/inference: the model registry, the llama.cpp engine with its
 * bounded queue, embeddings, the OpenAI-compatible API (/v1) and the admin
 * model routes (/api/models). Threads, context, sequences and batch come from tuning.
 */
export const inferencePlugin = fp(
  async (app) => {
    const cfg = app.config;
    const t = app.tuning;
    const registry = new ModelRegistry(cfg["inference.modelsDir"] ?? defaultModelsDir(cfg["paths.dataDir"]));
    const sequences = t.parallelSequences.value;
    const queue = new RequestQueue(sequences, cfg["inference.queueMax"] ?? sequences * 4, cfg["inference.queueTimeoutSeconds"] * 1000);
    // llama.cpp runs in supervised runner processes, capped at the model RAM budget; a crashing model is quarantined in the registry.
    const engines = cfg["inference.engineMode"] === "in-process"
      ? new InProcessHost(app.log)
      : new RunnerHost({
        memoryBudgetMb: t.modelRamBudgetMb.value,
        heartbeatTimeoutMs: cfg["inference.runnerHeartbeatTimeoutMs"],
        startTimeoutMs: cfg["inference.runnerStartTimeoutSeconds"] * 1000,
        logger: app.log,
        onQuarantine: (name, q) => {
          registry.quarantine(name, q);
          app.log.error({ model: name, ...q }, "model quarantined: it crashed its runner");
        },
      });
    const service = new InferenceService({
      registry,
      queue,
      engine: {
        threads: t.engineThreads.value,
        promptThreads: t.promptThreads.value,
        generationThreads: t.generationThreads.value,
        threadAdapter: cfg["inference.threadAdapter"] === "on",
        gpu: t.gpuBackend.value === "cpu" ? false : t.gpuBackend.value,
        contextSize: t.contextSize.value,
        sequences,
        batchSize: t.batchSize.value,
        gpuLayers: t.gpuLayers.value,
        // "auto" stays off: no board has measured the 1.2× win yet (bench/speculative.bench.ts).
        speculative: cfg["inference.speculative"] === "on",
        streamIntervalMs: cfg["inference.streamIntervalMs"],
      },
      engines,
      embeddingThreads: t.embeddingThreads.value,
      embeddingBatchSize: cfg["inference.embeddingBatchSize"],
      defaultModel: cfg["inference.defaultModel"],
      embeddingModel: cfg["inference.embeddingModel"],
      idleUnloadMs: cfg["inference.idleUnloadMinutes"] * 60_000,
      maxTokensDefault: cfg["inference.maxTokensDefault"],
      logger: app.log,
      closeTimeoutMs: Math.min(10_000, Math.floor(cfg["server.shutdownTimeoutMs"] / 2)),
    });
    app.decorate("inference", service);
    registerModelIntegrityJob(app.scheduler, registry);
    // Scheduled jobs (backups, summaries, integrity checks) start, and long ones continue, only while no user waits on a generation.
    app.scheduler.setForegroundGate((signal) => service.whenIdle(signal));
    app.addHook("onClose", async () => service.close());
    await app.register(openaiRoutes, { prefix: "/v1", inference: service });
    await app.register(modelRoutes, { prefix: "/api", inference: service, uploadLimitBytes: cfg["inference.uploadLimitBytes"] });
  },
  // Auth: token quotas on /v1; audit: model changes; live events: pull progress; scheduler: the integrity job.
  { name: "sovereign-inference", dependencies: ["sovereign-context", "sovereign-scheduler", "sovereign-audit", "sovereign-auth", "sovereign-live-events"] },
);
