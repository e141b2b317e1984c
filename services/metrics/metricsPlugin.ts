import fp from "fastify-plugin";
import { collectDefaultMetrics, Registry } from "prom-client";
import { registerHttpMetrics } from "./httpMetrics.js";
import { ServiceMetrics, type GenerationObservation } from "./serviceMetrics.js";
import { SystemMetrics } from "./systemMetrics.js";

export interface MetricsService {
  readonly registry: Registry;
  /** Records a finished generation (tokens, timings, time to first token). Inference's and chat's offloaded generations are observed already (attach). */
  observeGeneration(o: GenerationObservation): void;
  /** Services report a SQLite statement's latency under a short operation name. */
  observeQuery(op: string, seconds: number): void;
}

declare module "fastify" {
  interface FastifyInstance {
    metrics: MetricsService;
  }
}

/**
 * Prometheus metrics on their own registry (so several apps in one test
 * process never collide). Its request hooks see every route of the app,
 * whichever plugin registered it. Inference and the scheduler are read at
 * scrape time; federation, optional, through its accessor.
 */
export const metricsPlugin = fp(
  async (app) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
    // prom-client names these gauges "_total", which promtool rightly rejects; their "_total"-free twins remain.
    for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) registry.removeSingleMetric(name);
    registerHttpMetrics(app, registry);
    const system = new SystemMetrics(app, registry);
    const services = new ServiceMetrics(app, registry);
    app.decorate("metrics", {
      registry,
      observeGeneration: (o) => services.observeGeneration(o),
      observeQuery: (op, seconds) => system.queryDuration.observe({ op }, seconds),
    } satisfies MetricsService);
    services.attach();

    app.get(
      "/metrics",
      // The node itself (a local Prometheus or node agent) without credentials; anyone else with the "metrics" scope.
      { config: { access: "loopbackOrScope", scope: "metrics" } },
      async (_request, reply) => {
        await system.refresh();
        services.refresh();
        return reply.type(registry.contentType).send(await registry.metrics());
      },
    );
  },
  { name: "sovereign-metrics", dependencies: ["sovereign-db", "sovereign-scheduler", "sovereign-inference", "sovereign-chat"] },
);
