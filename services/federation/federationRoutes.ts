import type { FastifyInstance, FastifyRequest } from "fastify";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { FederationService } from "./FederationService.js";
import type { PeerRow } from "./FederationStore.js";
import { isTier, type Tier } from "./trust.js";

interface PrincipalLike {
  username?: string;
  userId?: string;
  role?: string;
  scopes?: readonly string[];
}

function principalOf(request: FastifyRequest): PrincipalLike | null {
  return (request as unknown as { principal?: PrincipalLike | null }).principal ?? null;
}

/** Tier changes are for admins; with no auth service loaded (bare test builds), routes stay as the app configures them. */
function requireAdmin(request: FastifyRequest): string {
  const p = principalOf(request);
  if (!request.server.hasRequestDecorator("principal")) return "api";
  if (!p) throw new SovereignError("UNAUTHENTICATED");
  if (p.role !== "admin" && !p.scopes?.includes("admin")) throw new SovereignError("FORBIDDEN", "Only admins change peers' trust.");
  return p.username ?? p.userId ?? "api";
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
  app.get("/api/federation/peers", async () => ({
    self: { nodeId: fed.nodeId, fingerprint: app.identity.fingerprint, enabled: fed.enabled, connected: fed.connected },
    peers: fed.peers().map(peerView),
    discovered: fed.discovered(),
  }));

  app.post<{ Params: { ref: string }; Body: { tier: Tier; fingerprint?: string } }>(
    "/api/federation/peers/:ref/approve",
    { schema: { body: { ...tierBody, required: ["tier", "fingerprint"] } } },
    async (request) => {
      const actor = requireAdmin(request);
      const r = fed.setTier(request.params.ref, request.body.tier, actor, request.body.fingerprint);
      return { peer: peerView(r.peer), from: r.from, changed: r.changed };
    },
  );

  app.put<{ Params: { ref: string }; Body: { tier: Tier; fingerprint?: string } }>(
    "/api/federation/peers/:ref/tier",
    { schema: { body: tierBody } },
    async (request) => {
      const actor = requireAdmin(request);
      if (!isTier(request.body.tier)) throw new SovereignError("FED_TIER_INVALID");
      const r = fed.setTier(request.params.ref, request.body.tier, actor, request.body.fingerprint);
      return { peer: peerView(r.peer), from: r.from, changed: r.changed };
    },
  );

  app.delete<{ Params: { ref: string } }>("/api/federation/peers/:ref", async (request) => {
    const actor = requireAdmin(request);
    const p = fed.removePeer(request.params.ref, actor);
    return { removed: p.nodeId };
  });

  app.get("/api/federation/stats", async () => ({ ...fed.stats(), breakers: fed.offload.breakerSnapshots() }));
  app.get("/api/federation/manifest", async () => fed.manifest());
  app.post("/api/federation/sync", async (request) => {
    requireAdmin(request);
    if (!fed.enabled) throw new SovereignError("FED_DISABLED");
    return { asked: fed.syncNow(true) };
  });

  // Backup mirrors. All admin-only: the list names peers' backups, and a bundle is a peer's whole (sealed) database.
  app.post("/api/federation/backups/mirror", async (request) => {
    requireAdmin(request);
    return { mirror: fed.mirrorNewestBackup(backupDir, { required: true }) };
  });

  app.get("/api/federation/mirrors", async (request) => {
    requireAdmin(request);
    return { mirrors: fed.mirrors.list() };
  });

  /** The sealed chunks of one held mirror, for its owner: `sovereign peer mirror-open` decrypts it there. */
  app.get<{ Params: { owner: string; backupId: string } }>("/api/federation/mirrors/:owner/:backupId", async (request) => {
    requireAdmin(request);
    return fed.mirrors.bundle(request.params.owner, request.params.backupId);
  });
}
