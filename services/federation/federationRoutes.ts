import type { FastifyInstance, FastifyRequest } from "fastify";
import { createReadStream, statSync } from "node:fs";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { FederationService } from "./FederationService.js";
import type { PeerRow } from "./FederationStore.js";
import { isTier, type Tier } from "./trust.js";

/** Who acted, for the peer's history: the caller's name (the access hook has checked the route's "admin" scope). */
function actorOf(request: FastifyRequest): string {
  const p = request.principal;
  return p?.username ?? p?.userId ?? "api";
}

export function peerView(p: PeerRow) {
  const m = p.manifest;
  return {
    nodeId: p.nodeId, name: p.name, fingerprint: p.fingerprint, tier: p.tier, online: p.online,
    firstSeen: new Date(p.firstSeen).toISOString(), lastSeen: new Date(p.lastSeen).toISOString(),
    hardware: m?.capabilities.hardware ?? null, models: m?.capabilities.models ?? [], inference: m?.capabilities.inference ?? null,
    endpoints: m?.endpoints ?? null, manifestExpiresAt: m ? new Date(m.expiresAt).toISOString() : null, logHead: m?.logHead ?? 0,
  };
}

const tierBody = {
  type: "object",
  required: ["tier"],
  additionalProperties: false,
  properties: { tier: { type: "string", enum: ["core", "sandbox", "external", "unknown"] }, fingerprint: { type: "string", maxLength: 64 } },
} as const;

/** /api/federation: peers and pairing, stats, the node's own manifest, sync on demand, backup mirrors. */
export async function federationRoutes(app: FastifyInstance, fed: FederationService, backupDir: string): Promise<void> {
  // Peers, their trust, sync and backup mirrors are the admin's (the Peers page is admin-only): the hook checks the
  // caller's scopes, so an admin's key scoped to "chat" or "metrics" gets no further than a guest.
  const config = { scope: "admin" as const };
  app.get("/api/federation/peers", { config }, async () => ({
    self: { nodeId: fed.nodeId, fingerprint: app.identity.fingerprint, enabled: fed.enabled, connected: fed.connected },
    peers: fed.peers().map(peerView),
    discovered: fed.discovered(),
  }));

  app.post<{ Params: { ref: string }; Body: { tier: Tier; fingerprint?: string } }>(
    "/api/federation/peers/:ref/approve",
    { config, schema: { body: { ...tierBody, required: ["tier", "fingerprint"] } } },
    async (request) => {
      const actor = actorOf(request);
      const r = fed.setTier(request.params.ref, request.body.tier, actor, request.body.fingerprint);
      return { peer: peerView(r.peer), from: r.from, changed: r.changed };
    },
  );

  app.put<{ Params: { ref: string }; Body: { tier: Tier; fingerprint?: string } }>(
    "/api/federation/peers/:ref/tier",
    { config, schema: { body: tierBody } },
    async (request) => {
      const actor = actorOf(request);
      if (!isTier(request.body.tier)) throw new SovereignError("FED_TIER_INVALID");
      const r = fed.setTier(request.params.ref, request.body.tier, actor, request.body.fingerprint);
      return { peer: peerView(r.peer), from: r.from, changed: r.changed };
    },
  );

  app.delete<{ Params: { ref: string } }>("/api/federation/peers/:ref", { config }, async (request) => {
    const actor = actorOf(request);
    const p = fed.removePeer(request.params.ref, actor);
    return { removed: p.nodeId };
  });

  app.get("/api/federation/stats", { config }, async () => ({ ...fed.stats(), breakers: fed.offload.breakerSnapshots() }));
  app.get("/api/federation/manifest", { config }, async () => fed.manifest());
  app.post("/api/federation/sync", { config }, async () => {
    if (!fed.enabled) throw new SovereignError("FED_DISABLED");
    return { asked: fed.syncNow(true) };
  });

  // Backup mirrors: the list names peers' backups, and a bundle is a peer's whole (sealed) database.
  app.post("/api/federation/backups/mirror", { config }, async () => {
    return { mirror: fed.mirrorNewestBackup(backupDir, { required: true }) };
  });

  app.get("/api/federation/mirrors", { config }, async () => {
    return { mirrors: fed.mirrors.list() };
  });

  /**
   * An update bundle this node shares, for a core peer that accepted its offer: whole or one HTTP Range
   * (`bytes=a-b`, `bytes=a-`), so a pull resumes where it stopped. Not a user route: the caller is a peer, proven by
   * its signed request (peerHttp.ts); without that signature the answer is UNAUTHENTICATED, like any other route.
   */
  app.get<{ Params: { sha256: string } }>("/api/federation/update-bundles/:sha256", { config: { access: "public" } }, async (request, reply) => {
    try {
      fed.verifyPeerRequest(request);
    } catch (err) {
      fed.counters.bundles.refused++;
      throw err;
    }
    const sha = request.params.sha256;
    const path = /^[0-9a-f]{64}$/.test(sha) ? fed.bundlePath(sha) : null;
    let size: number;
    try {
      if (!path) throw new Error("none");
      size = statSync(path).size;
    } catch {
      throw new SovereignError("FED_BUNDLE_NOT_FOUND");
    }
    const range = request.headers.range;
    let start = 0;
    let end = size - 1;
    if (range !== undefined) {
      const m = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(range.trim());
      if (!m) throw new SovereignError("FED_RANGE_INVALID", `Range ${JSON.stringify(range.slice(0, 60))} is not one byte range.`);
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      if (start >= size || end < start) {
        void reply.header("content-range", `bytes */${size}`);
        throw new SovereignError("FED_RANGE_INVALID", `Range ${start}-${m[2] ?? ""} is outside the ${size}-byte bundle.`);
      }
    }
    fed.counters.bundles.requests++;
    const stream = createReadStream(path as string, { start, end });
    stream.on("data", (c) => {
      fed.counters.bundles.bytesServed += c.length;
    });
    void reply.header("accept-ranges", "bytes").header("content-type", "application/octet-stream").header("content-length", String(end - start + 1));
    if (range !== undefined) void reply.code(206).header("content-range", `bytes ${start}-${end}/${size}`);
    return reply.send(stream);
  });

  /** The sealed chunks of one held mirror, for its owner: `sovereign peer mirror-open` decrypts it there. */
  app.get<{ Params: { owner: string; backupId: string } }>("/api/federation/mirrors/:owner/:backupId", { config }, async (request) => {
    return fed.mirrors.bundle(request.params.owner, request.params.backupId);
  });
}
