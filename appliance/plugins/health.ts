import fp from "fastify-plugin";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { HealthRegistry } from "./healthRegistry.js";

declare module "fastify" {
  interface FastifyInstance {
    health: HealthRegistry;
  }
}

/**
 * Infrastructure: the health registry, the event-loop check, /healthz and /readyz.
 * /healthz is liveness only and never touches services, so it stays cheap.
 */
export const healthPlugin = fp(
  async (app) => {
    const registry = new HealthRegistry();
    app.decorate("health", registry);

    // Delay measured by a histogram, reset on every read, so the value is "since the last check".
    const histogram = monitorEventLoopDelay({ resolution: 20 });
    histogram.enable();
    const maxDelayMs = app.config["watchdog.maxEventLoopDelayMs"];
    registry.register({
      name: "event-loop",
      liveness: true,
      check: () => {
        const maxMs = histogram.max / 1e6;
        histogram.reset();
        return maxMs > maxDelayMs
          ? { ok: false, detail: `event loop blocked for ${Math.round(maxMs)} ms (limit ${maxDelayMs} ms)` }
          : { ok: true, detail: `max delay ${Math.round(maxMs)} ms` };
      },
      resetWindow: () => histogram.reset(),
    });
    app.addHook("onClose", async () => histogram.disable());

    app.get("/healthz", { config: { access: "public" } }, async () => ({ status: "ok" }));

    app.get("/readyz", async (_req, reply) => {
      const checks = await registry.run();
      const ready = Object.values(checks).every((c) => c.ok);
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not-ready", checks });
    });
  },
  { name: "sovereign-health", dependencies: ["sovereign-context"] },
);
