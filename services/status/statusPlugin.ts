import fp from "fastify-plugin";
import type { FastifyInstance, FastifyReply } from "fastify";
import { hostname } from "node:os";
import { LiveSampler } from "./LiveSampler.js";
import { LiveStatsReader, type LiveStats } from "./readLiveStats.js";
import { inferenceSnapshot } from "./inferenceSnapshot.js";
import { settingsRoute } from "./settingsRoute.js";
import { streamCredential } from "./streamCredential.js";

/** The panel's data: GET /api/status (one snapshot), GET /api/events (SSE, authenticated like every non-public route) and GET /api/settings (admins). */
export const statusPlugin = fp(
  async (app) => {
    const sampler = new LiveSampler(new LiveStatsReader(app.config["paths.dataDir"]));
    const startedAt = Date.now();

    const { send } = app.liveEvents;
    const live = (s: LiveStats) => ({ ...s, inference: inferenceSnapshot(app.inference) });

    // The facts and tuning never change while running: serialize them once. The
    // whole body is rebuilt at most once a second, so a request under load costs
    // little more than its authentication.
    const fixed = JSON.stringify({ hardware: hardwareSummary(app), tuning: Object.entries(app.tuning).map(([key, c]) => ({ key, value: c.value, reason: c.reason, source: c.source })) }).slice(1, -1);
    const nodeName = app.config["node.name"] ?? hostname();
    let cached: { body: string; at: number; sample: LiveStats } | null = null;
    app.get("/api/status", async (_request, reply) => {
      const sample = await sampler.current();
      const now = Date.now();
      if (!cached || cached.sample !== sample || now - cached.at >= 1000) {
        const node = { name: nodeName, id: app.identity.nodeId, fingerprint: app.identity.fingerprint, certificateFingerprint: app.tls?.fingerprint ?? null, uptimeSeconds: Math.round((now - startedAt) / 1000) };
        cached = { body: `{"node":${JSON.stringify(node)},${fixed},"live":${JSON.stringify(live(sample))}}`, at: now, sample };
      }
      return reply.header("content-type", "application/json; charset=utf-8").header("cache-control", "no-store").send(cached.body);
    });

    app.get("/api/events", async (request, reply: FastifyReply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        connection: "keep-alive",
      });
      // Tell EventSource how long to wait before reconnecting.
      res.write("retry: 3000\n\n");
      const detach = app.liveEvents.attach(res);
      send(res, "live", live(await sampler.current()));
      // The credential is checked again with every sample, so a logout or a
      // revoked key also ends the stream (within one sampling interval).
      const stillValid = streamCredential(app, request);
      const unsubscribe = sampler.subscribe((s) => {
        if (stillValid()) return send(res, "live", live(s));
        send(res, "expired", { reason: "The session or key that opened this stream is no longer valid." });
        done();
        res.end();
      });
      // A comment line every 15 s keeps proxies and idle timers from closing a quiet stream.
      const heartbeat = setInterval(() => {
        if (!res.writableEnded) res.write(": ping\n\n");
      }, 15_000);
      heartbeat.unref();
      const done = () => {
        clearInterval(heartbeat);
        unsubscribe();
        detach();
      };
      request.raw.on("close", done);
      res.on("close", done);
    });

    await settingsRoute(app);

    app.addHook("onClose", async () => sampler.stop());
  },
  { name: "sovereign-status", dependencies: ["sovereign-context", "sovereign-live-events", "sovereign-identity", "sovereign-tls", "sovereign-auth", "sovereign-inference"] },
);

function hardwareSummary(app: FastifyInstance) {
  const f = app.hardware.facts;
  return {
    model: f.model,
    boardId: f.boardId,
    arch: f.arch,
    cpu: { model: f.cpu.modelName, logicalCpus: f.cpu.logicalCpus, usableCpus: f.cpu.usableCpus, physicalCores: f.cpu.physicalCores, performanceCores: f.cpu.performanceCores, efficiencyCores: f.cpu.efficiencyCores, features: f.cpu.features },
    memory: f.memory,
    gpu: f.gpu,
    bootMedium: f.bootMedium,
    l4tRelease: f.l4tRelease,
    cgroup: f.cgroup,
    warnings: app.hardware.warnings,
  };
}
