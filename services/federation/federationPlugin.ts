import fp from "fastify-plugin";
import { hostname } from "node:os";
import { backupDirOf } from "../db/backups.js";
import { FederatedMemories } from "../memory/FederatedMemories.js";
import type { MemoryService } from "../memory/MemoryService.js";
import { EncryptionKey } from "./backupCrypto.js";
import { FederationService } from "./FederationService.js";
import { FederationStore } from "./FederationStore.js";
import { federationRoutes } from "./federationRoutes.js";
import { inferenceFromApp, type LocalInference } from "./localInference.js";
import { bridgeMemory, type MemoryBridge } from "./MemoryBridge.js";
import { findUserId } from "../memory/userId.js";
import "./errors.js";

declare module "fastify" {
  interface FastifyInstance {
    federation: FederationService & { setLocalInference(local: LocalInference | null): void };
  }
}

interface SchedulerLike {
  register(def: { name: string; schedule: string; description?: string; onlyWhenIdle?: boolean; timeoutMs: number; run: () => unknown }): void;
  onRunFinished(listener: (run: { job: string; outcome: string }) => void): void;
}
interface AuditLike {
  record(e: { type: string; actor?: string | null; subject?: string | null; details?: Record<string, unknown> }): unknown;
}

/**
 * Federation: decorates `app.federation`, registers /api/federation routes and
 * the "federation-sync" job, and joins the broker once every service is
 * ready (so inference, audit and the scheduler are in place). With
 * federation.enabled false it still answers for its peers table, but talks to no one.
 *
 * Memory and the scheduler are optional (duck-typed, looked up when the app
 * is ready): with `app.memory`, knowledge packets apply to memory and the
 * memory user's new memories are published; with the scheduler, every
 * successful "db-backup" run is mirrored to the core peers.
 */
export const federationPlugin = fp(
  async (app) => {
    const config = app.config;
    const store = new FederationStore(app.db);
    let override: LocalInference | null = null;
    const name = config["node.name"] ?? (hostname().toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 63) || "sovereign");
    const fed = new FederationService({
      config, store, name, hardware: app.hardware,
      identity: { nodeId: app.identity.nodeId, publicKeyB64: app.identity.publicKeyBase64, fingerprint: app.identity.fingerprint, key: app.identity.privateKeyObject() },
      encryptionKey: EncryptionKey.loadOrCreate(config["paths.dataDir"]),
      log: app.log,
      audit: (e) => {
        if (app.hasDecorator("audit")) (app as unknown as { audit: AuditLike }).audit.record(e);
        else app.log.info({ audit: e }, "federation: tier change (no audit service loaded)");
      },
      local: () => override ?? inferenceFromApp(app),
      httpEndpoints: () => {
        const addr = app.server.address();
        return addr && typeof addr === "object" ? [`http://${addr.address}:${addr.port}`] : [];
      },
    });
    const api = Object.assign(fed, {
      setLocalInference(local: LocalInference | null) {
        override = local;
      },
    });
    app.decorate("federation", api);
    app.health.register({
      name: "federation",
      liveness: false,
      check: () => (!fed.enabled ? { ok: true, detail: "off" } : fed.connected ? { ok: true, detail: "connected" } : { ok: false, detail: "broker link down; packets wait in the outbox" }),
    });
    let bridge: { bridge: MemoryBridge; stop: () => void } | undefined;
    const backupDir = backupDirOf(config["paths.dataDir"]);
    if (app.hasDecorator("scheduler")) {
      const scheduler = (app as unknown as { scheduler: SchedulerLike }).scheduler;
      scheduler.onRunFinished((run) => {
        if (run.job !== "db-backup" || run.outcome !== "ok") return;
        try {
          const r = fed.mirrorNewestBackup(backupDir);
          if (r) app.log.info({ backup: r.name, backupId: r.backupId, chunks: r.chunks, peers: r.peers }, "federation: backup mirrored to core peers");
        } catch (err) {
          app.log.error({ err: (err as Error).message }, "federation: could not mirror the new backup");
        }
      });
      scheduler.register({
        name: "federation-sync",
        schedule: "* * * * *",
        description: "Re-issue the signed manifest when due and ask peers for packets we lack.",
        onlyWhenIdle: false,
        timeoutMs: 30_000,
        run: () => (fed.enabled ? { asked: fed.syncNow(), manifestSeq: fed.manifest().manifest.seq, memoriesExported: bridge?.bridge.exportNew() ?? 0 } : { skipped: "federation off" }),
      });
    }
    await federationRoutes(app, fed, backupDir);
    app.addHook("onReady", async () => {
      if (app.hasDecorator("memory")) {
        const memory = (app as unknown as { memory: MemoryService }).memory;
        bridge = bridgeMemory(fed, new FederatedMemories(memory), {
          user: () => memoryUserOf(store, config["federation.memoryUser"]), maxTextBytes: config["memory.maxDocumentBytes"], maxPayloadBytes: config["federation.maxPayloadBytes"], log: app.log,
        });
      }
      await fed.start();
    });
    app.addHook("onClose", async () => {
      bridge?.stop();
      await fed.stop();
    });
  },
  { name: "sovereign-federation", dependencies: ["sovereign-context", "sovereign-db", "sovereign-identity"] },
);

/** federation.memoryUser as a user id: a named user (by name or id), else the node's owner. A name not (yet) known is used as an id. */
function memoryUserOf(store: FederationStore, configured: string): string {
  return findUserId(store.sqlite, configured || undefined) ?? configured;
}
