import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { isIP } from "node:net";
import { interfaceAddresses, isLoopbackAddress } from "../auth/hostCheck.js";
import { hostname } from "node:os";
import { backupDirOf } from "../db/backups.js";
import { FederatedMemories } from "../memory/FederatedMemories.js";
import { EncryptionKey } from "./backupCrypto.js";
import { FederationService } from "./FederationService.js";
import { FederationStore } from "./FederationStore.js";
import { federationRoutes } from "./federationRoutes.js";
import { localInferenceFrom, type LocalInference } from "./localInference.js";
import { bridgeMemory, type MemoryBridge } from "./MemoryBridge.js";
import { findUserId, type UserDirectory } from "../memory/userId.js";
import "./errors.js";

/** `app.federation`: the service, and a test seam for what peers' requests run on. */
export type FederationApi = FederationService & { setLocalInference(local: LocalInference | null): void };

declare module "fastify" {
  interface FastifyInstance {
    /** Always decorated while the plugin is loaded; services that can do without it read it through `federationOf` (federationOf.ts). */
    federation: FederationApi;
  }
}

/**
 * Federation: decorates `app.federation`, registers /api/federation routes and
 * the "federation-sync" job, and joins the broker once every service is
 * ready. With federation.enabled false it still answers for its peers table,
 * but talks to no one. Knowledge packets apply to memory and the memory user's
 * new memories are published; every successful "db-backup" run is mirrored to
 * the core peers; peers' offloaded requests run on this node's inference.
 */
export const federationPlugin = fp(
  async (app) => {
    const config = app.config;
    const store = new FederationStore(app.db);
    let override: LocalInference | null = null;
    const localInference = localInferenceFrom(app.inference);
    const name = config["node.name"] ?? (hostname().toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 63) || "sovereign");
    const fed = new FederationService({
      config, store, name, hardware: app.hardware,
      identity: { nodeId: app.identity.nodeId, publicKeyB64: app.identity.publicKeyBase64, fingerprint: app.identity.fingerprint, key: app.identity.privateKeyObject() },
      encryptionKey: EncryptionKey.loadOrCreate(config["paths.dataDir"]),
      log: app.log,
      audit: (e) => app.audit.record(e),
      local: () => override ?? localInference,
      httpEndpoints: () => httpEndpointsOf(app),
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
    app.scheduler.onRunFinished((run) => {
      if (run.job !== "db-backup" || run.outcome !== "ok") return;
      try {
        const r = fed.mirrorNewestBackup(backupDir);
        if (r) app.log.info({ backup: r.name, backupId: r.backupId, chunks: r.chunks, peers: r.peers }, "federation: backup mirrored to core peers");
      } catch (err) {
        app.log.error({ err: (err as Error).message }, "federation: could not mirror the new backup");
      }
    });
    app.scheduler.register({
      name: "federation-sync",
      schedule: "* * * * *",
      description: "Re-issue the signed manifest when due and ask peers for packets we lack.",
      onlyWhenIdle: false,
      timeoutMs: 30_000,
      run: () => (fed.enabled ? { asked: fed.syncNow(), manifestSeq: fed.manifest().manifest.seq, memoriesExported: bridge?.bridge.exportNew() ?? 0 } : { skipped: "federation off" }),
    });
    await federationRoutes(app, fed, backupDir);
    app.addHook("onReady", async () => {
      bridge = bridgeMemory(fed, new FederatedMemories(app.memory), {
        user: () => memoryUserOf(app.auth.users, config["federation.memoryUser"]), maxTextBytes: config["memory.maxDocumentBytes"], maxPayloadBytes: config["federation.maxPayloadBytes"], log: app.log,
      });
      await fed.start();
    });
    app.addHook("onClose", async () => {
      bridge?.stop();
      await fed.stop();
    });
  },
  {
    name: "sovereign-federation",
    dependencies: ["sovereign-context", "sovereign-db", "sovereign-identity", "sovereign-audit", "sovereign-scheduler", "sovereign-auth", "sovereign-inference", "sovereign-memory"],
  },
);

/**
 * Where peers reach this node over HTTP (the update-bundle route): HTTPS on server.httpsPort when the
 * node has a certificate (plain HTTP then redirects everything but /healthz), else the plain port; a
 * wildcard listen address becomes this machine's non-loopback, non-link-local addresses (at most 8).
 */
export function httpEndpointsOf(app: FastifyInstance): string[] {
  const addr = app.server.address();
  if (!addr || typeof addr !== "object") return [];
  const scheme = app.tls ? "https" : "http";
  const port = app.tls ? app.config["server.httpsPort"] : addr.port;
  const wildcard = addr.address === "0.0.0.0" || addr.address === "::";
  const hosts = wildcard ? interfaceAddresses().filter((a) => !isLoopbackAddress(a) && !a.startsWith("fe80:") && (addr.address === "::" || isIP(a) === 4)) : [addr.address];
  return hosts.slice(0, 8).map((h) => `${scheme}://${h.includes(":") ? `[${h}]` : h}:${port}`);
}

/** federation.memoryUser as a user id: a named user (by name or id), else the node's owner. A name not (yet) known is used as an id. */
function memoryUserOf(users: UserDirectory, configured: string): string {
  return findUserId(users, configured || undefined) ?? configured;
}
