import fp from "fastify-plugin";
import { EventLoopLag } from "./EventLoopLag.js";
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

    // The longest stall since the last check (the one still in progress included).
    const lag = new EventLoopLag(20);
    lag.start();
    const maxDelayMs = app.config["watchdog.maxEventLoopDelayMs"];
    registry.register({
      name: "event-loop",
      liveness: true,
      check: () => {
        const maxMs = lag.takeMaxMs();
        return maxMs > maxDelayMs
          ? { ok: false, detail: `event loop blocked for ${Math.round(maxMs)} ms (limit ${maxDelayMs} ms)` }
          : { ok: true, detail: `max delay ${Math.round(maxMs)} ms` };
      },
      resetWindow: () => lag.reset(),
    });
    app.addHook("onClose", async () => lag.stop());

    app.get("/healthz", { config: { access: "public" } }, async () => ({ status: "ok" }));

    app.get("/readyz", async (_req, reply) => {
      const checks = await registry.run();
      const ready = Object.values(checks).every((c) => c.ok);
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not-ready", checks });
    });
  },
  { name: "sovereign-health", dependencies: ["sovereign-context"] },
);
