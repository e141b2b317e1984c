import type { FastifyPluginAsync } from "fastify";
import type { JobStore } from "./JobStore.js";
import type { Scheduler } from "./Scheduler.js";

const nameParams = {
  type: "object",
  required: ["name"],
  properties: { name: { type: "string", minLength: 1, maxLength: 64 } },
} as const;

/** /api/jobs: list, history, run now, pause, resume. Authenticated (the default). */
const admin = { scope: "admin" as const };

export const jobRoutes: FastifyPluginAsync<{ scheduler: Scheduler; store: JobStore }> = async (app, { scheduler, store }) => {
  app.get("/api/jobs", { config: admin }, async () => ({ jobs: scheduler.list() }));

  app.get<{ Querystring: { job?: string; limit?: number } }>(
    "/api/jobs/runs",
    {
      config: admin,
      schema: {
        querystring: {
          type: "object",
          properties: { job: { type: "string", maxLength: 64 }, limit: { type: "string", pattern: "^[0-9]{1,4}$" } },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const q = request.query as { job?: string; limit?: string };
      return { runs: store.runs({ ...(q.job ? { job: q.job } : {}), ...(q.limit ? { limit: Number(q.limit) } : {}) }) };
    },
  );

  app.get<{ Params: { name: string } }>("/api/jobs/:name", { config: admin, schema: { params: nameParams } }, async (request) => {
    scheduler.get(request.params.name);
    const status = scheduler.list().find((j) => j.name === request.params.name);
    return { job: status, runs: store.runs({ job: request.params.name, limit: 20 }) };
  });

  app.post<{ Params: { name: string }; Querystring: { wait?: string } }>(
    "/api/jobs/:name/run",
    { config: admin, schema: { params: nameParams } },
    async (request, reply) => {
      const { runId, done } = scheduler.runNow(request.params.name);
      if ((request.query as { wait?: string }).wait === "true") return { run: await done };
      void done.catch(() => undefined);
      return reply.code(202).send({ runId });
    },
  );

  app.post<{ Params: { name: string } }>("/api/jobs/:name/pause", { config: admin, schema: { params: nameParams } }, async (request) => {
    scheduler.pause(request.params.name);
    return { name: request.params.name, paused: true };
  });

  app.post<{ Params: { name: string } }>("/api/jobs/:name/resume", { config: admin, schema: { params: nameParams } }, async (request) => {
    scheduler.resume(request.params.name);
    return { name: request.params.name, paused: false };
  });
};
