import type { FastifyInstance } from "fastify";
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { BundleManifest } from "./bundleFormat.js";
import type { ProgressPhase } from "./bundleReader.js";
import type { PeerPull, PullStatus } from "./bundlePull.js";
import type { BundleOffer, OfferStore } from "./offerStore.js";
import { updateDirOf, type UpdateService } from "./UpdateService.js";

/** What the panel polls while an uploaded bundle is verified and written. */
export interface ApplyProgress {
  phase: "upload" | "pulling" | "pulled" | ProgressPhase | "done" | "failed";
  doneBytes: number;
  totalBytes: number;
  /** The verified manifest, once the verify pass has accepted it. */
  manifest: BundleManifest | null;
  error: { code: string; message: string } | null;
  startedAt: string;
}

/**
 * /api/update: the status, an upload that is streamed to one file under the
 * data dir and then verified and applied in the background, its progress, and
 * "restart into the update". Admins only.
 */
/** A pull from a peer as the one progress: "pulling" (bytes on disk), "pulled" (verified, waiting for "apply"), then the apply's passes. */
export function pullProgress(p: PullStatus): ApplyProgress {
  const phase: ApplyProgress["phase"] =
    p.phase === "pulling" ? "pulling" : p.phase === "verifying" ? "verify" : p.phase === "pulled" ? "pulled" : p.phase === "applying" ? (p.applyPhase ?? "verify") : p.phase === "applied" ? "done" : "failed";
  return { phase, doneBytes: p.doneBytes, totalBytes: p.totalBytes, manifest: p.manifest, error: p.error, startedAt: p.startedAt };
}

export async function updateRoutes(
  app: FastifyInstance,
  opts: {
    service: UpdateService;
    maxBundleBytes: number;
    onChange: () => void;
    pull?: PeerPull;
    offers?: OfferStore | null;
    /** Moves an applied upload into the shared bundles. */
    share?: (path: string) => Promise<void>;
    /** Verifies a bundle given to share (any board) and moves it into the shared bundles. */
    addOffer?: (path: string, actor: string | null) => Promise<BundleOffer>;
  },
): Promise<void> {
  const { service } = opts;
  const config = { scope: "admin" as const };
  let progress: ApplyProgress | null = null;

  // Only in this plugin's scope: the raw body stays a stream, written to disk as it arrives.
  app.addContentTypeParser("application/octet-stream", (_req, payload, done) => done(null, payload));

  app.get("/api/update", { config }, async () => {
    // CLI applies journal their audit events; a status read brings them into the audit log.
    opts.onChange();
    const pull = opts.pull?.status() ?? null;
    const fromPull = pull ? pullProgress(pull) : null;
    // One progress: whichever of the upload and the peer pull started last.
    const shown = fromPull && (!progress || fromPull.startedAt >= progress.startedAt) ? fromPull : progress;
    const offers = (opts.offers?.list() ?? []).map((o) => ({ version: o.version, board: o.board, size: o.size, sha256: o.sha256 }));
    return { ...service.status(), progress: shown, pull, offers };
  });

  /** The admin's "apply" for a bundle pulled from a core peer (with update.autoApplyFromPeers off): the same apply as an upload. */
  app.post("/api/update/pull/apply", { config }, async (request, reply) => {
    if (!opts.pull) throw new SovereignError("UPDATE_NOTHING_PULLED");
    opts.pull.startApply(request.principal?.userId ?? null);
    return reply.code(202).send({ progress: "/api/update" });
  });

  /**
   * A bundle for this node to offer to its core peers without applying it (any board, e.g. a core node
   * handing out its Pi peers' update): streamed like an upload, verified (signature, trusted key, every part), kept.
   */
  app.post("/api/update/offers", { config, bodyLimit: opts.maxBundleBytes }, async (request, reply) => {
    if (!opts.offers || !opts.addOffer) throw new SovereignError("UPDATE_SHARING_OFF");
    const declared = Number(request.headers["content-length"] ?? "0");
    if (declared > opts.maxBundleBytes) throw new SovereignError("UPDATE_UPLOAD_TOO_LARGE", `The upload is ${declared} bytes; update.maxBundleBytes is ${opts.maxBundleBytes}.`);
    const body = request.body as Readable | undefined;
    if (!body || typeof body.pipe !== "function") throw new SovereignError("UPDATE_BUNDLE_MALFORMED", "Send the bundle as the request body with Content-Type: application/octet-stream.");
    const dir = updateDirOf(app.config["paths.dataDir"]);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, "offer-upload.sovupdate");
    let received = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        if (received > opts.maxBundleBytes) cb(new SovereignError("UPDATE_UPLOAD_TOO_LARGE", `The upload passed update.maxBundleBytes (${opts.maxBundleBytes}).`));
        else cb(null, chunk);
      },
    });
    try {
      await pipeline(body, counter, createWriteStream(file, { mode: 0o600 }));
      const o = await opts.addOffer(file, request.principal?.userId ?? null);
      return await reply.code(201).send({ offer: { version: o.version, board: o.board, size: o.size, sha256: o.sha256 } });
    } catch (err) {
      if (err instanceof SovereignError) throw err;
      throw new SovereignError("UPDATE_BUNDLE_TRUNCATED", "The upload ended before the whole bundle arrived.");
    } finally {
      await rm(file, { force: true });
    }
  });

  app.post<{ Querystring: { allowDowngrade?: string } }>(
    "/api/update/bundle",
    {
      config,
      // The limit below is enforced while streaming; fastify's own would buffer-check only parsed bodies.
      bodyLimit: opts.maxBundleBytes,
      schema: { querystring: { type: "object", additionalProperties: false, properties: { allowDowngrade: { type: "string", enum: ["0", "1"] } } } },
    },
    async (request, reply) => {
      if (!service.configured) throw new SovereignError("UPDATE_NOT_CONFIGURED");
      if (service.status().busy || (progress && !["done", "failed"].includes(progress.phase))) throw new SovereignError("UPDATE_BUSY");
      const declared = Number(request.headers["content-length"] ?? "0");
      if (declared > opts.maxBundleBytes) throw new SovereignError("UPDATE_UPLOAD_TOO_LARGE", `The upload is ${declared} bytes; update.maxBundleBytes is ${opts.maxBundleBytes}.`);
      const body = request.body as Readable | undefined;
      if (!body || typeof (body as Readable).pipe !== "function") throw new SovereignError("UPDATE_BUNDLE_MALFORMED", "Send the bundle as the request body with Content-Type: application/octet-stream.");
      const dir = updateDirOf(app.config["paths.dataDir"]);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const file = join(dir, "upload.sovupdate");
      const current: ApplyProgress = { phase: "upload", doneBytes: 0, totalBytes: declared, manifest: null, error: null, startedAt: new Date().toISOString() };
      progress = current;
      let received = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          received += chunk.length;
          current.doneBytes = received;
          if (received > opts.maxBundleBytes) cb(new SovereignError("UPDATE_UPLOAD_TOO_LARGE", `The upload passed update.maxBundleBytes (${opts.maxBundleBytes}).`));
          else cb(null, chunk);
        },
      });
      try {
        await pipeline(body, counter, createWriteStream(file, { mode: 0o600 }));
      } catch (err) {
        await rm(file, { force: true });
        current.phase = "failed";
        const e = err instanceof SovereignError ? err : new SovereignError("UPDATE_BUNDLE_TRUNCATED", "The upload ended before the whole bundle arrived.");
        current.error = { code: e.code, message: e.message };
        throw e;
      }
      const actor = request.principal?.userId ?? null;
      const allowDowngrade = request.query.allowDowngrade === "1";
      // Verified and written after the answer: the panel follows it on GET /api/update.
      const run = async (): Promise<void> => {
        let end: Pick<ApplyProgress, "phase" | "error"> = { phase: "done", error: null };
        let applied = false;
        try {
          await service.apply(file, {
            via: "upload", actor, allowDowngrade,
            onProgress: (phase, done, total) => {
              current.phase = phase;
              current.doneBytes = done;
              current.totalBytes = total;
            },
            onVerified: (m) => {
              current.manifest = m;
            },
          });
          applied = true;
        } catch (err) {
          end = { phase: "failed", error: { code: err instanceof SovereignError ? err.code : "INTERNAL", message: (err as Error).message } };
          if (!(err instanceof SovereignError)) app.log.error({ err }, "update apply failed");
        }
        // The stored upload goes before the outcome shows: an applied one moves to the bundles offered to core
        // peers (update.offerToPeers), anything else is deleted; it is never kept as a second copy here.
        if (applied && opts.share) {
          try {
            await opts.share(file);
          } catch (err) {
            app.log.warn({ err }, "update: the applied bundle could not be kept to offer to peers");
          }
        }
        await rm(file, { force: true });
        opts.onChange();
        Object.assign(current, end);
      };
      void run();
      return reply.code(202).send({ received, progress: "/api/update" });
    },
  );

  app.post("/api/update/restart", { config }, async (request, reply) => {
    const r = service.restart(request.principal?.userId ?? null);
    opts.onChange();
    return reply.code(202).send(r);
  });

  app.post("/api/update/mark-good", { config }, async (request) => {
    const r = service.markGood(request.principal?.userId ?? null);
    opts.onChange();
    return r;
  });
}
