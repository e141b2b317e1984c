import fp from "fastify-plugin";
import { join } from "node:path";
import { packageVersion } from "../../core/packageVersion.js";
import { federationOf } from "../federation/federationOf.js";
import { PeerPull, type PeerLink } from "./bundlePull.js";
import { drainJournal } from "./journal.js";
import { OfferStore, verifyForSharing, type BundleOffer } from "./offerStore.js";
import { registerUpdateMetrics } from "./updateMetrics.js";
import { updateRoutes } from "./updateRoutes.js";
import { updateServiceFromConfig } from "./serviceFromConfig.js";
import { updateDirOf, type UpdateService } from "./UpdateService.js";
import "./errors.js";
import "./settings.js";

/** Updates to and from core federation peers: the bundles this node offers, the pull of a peer's bundle. */
export interface UpdatePeers {
  pull: PeerPull;
  /** Null with update.offerToPeers off. */
  offers: OfferStore | null;
  /** Offers every shared bundle to every core peer now; returns how many offers went out. */
  announce(): number;
  /** Adds a bundle to the shared ones (copied, or moved) and offers it. */
  share(path: string, move: boolean): Promise<BundleOffer | null>;
}

declare module "fastify" {
  interface FastifyInstance {
    update: UpdateService;
    updatePeers: UpdatePeers;
  }
}

/**
 * The update service: one status for every way of applying a bundle, the
 * admin API (/api/update), its counters on /metrics, and every attempt and
 * result in the audit log (also those the CLI journalled while the node ran).
 * At start it reconciles the state with the booted slot, which is where a
 * rollback is noticed.
 */
export const updatePlugin = fp(
  async (app) => {
    const updateDir = updateDirOf(app.config["paths.dataDir"]);
    let countPull: (e: { type: string; actor: string | null; subject: string | null; details: Record<string, unknown> }) => void = () => undefined;
    const record = (e: { type: string; actor: string | null; subject: string | null; details: Record<string, unknown> }): void => {
      app.audit.record(e);
      countPull(e);
    };
    const change = app.dbVersionChange;
    const service = updateServiceFromConfig(app.config, record, () =>
      change.kind === "restored" ? { restoredSnapshot: change.snapshot, keptAside: change.keptAside, notCarriedBack: change.notCarriedBack, summary: change.summary } : null,
    );
    const drain = (): void => {
      try {
        drainJournal(updateDir, record);
      } catch (err) {
        app.log.warn({ err }, "update journal not drained");
      }
    };
    drain();
    service.reconcile();
    app.decorate("update", service);
    // The pull is made below; the counters read it only at scrape time and on its own audit events.
    countPull = registerUpdateMetrics(app.metrics.registry, service, () => pull);

    // Peers: federation loads after this plugin and is optional; it is reached only through federationOf at use.
    const c = app.config;
    const offers = c["update.offerToPeers"] ? new OfferStore(join(updateDir, "offers"), c["update.offersKeep"]) : null;
    const link = (): PeerLink | null => {
      const fed = federationOf(app);
      return fed ? { tierOf: (id) => fed.tierOf(id), endpoints: (id) => fed.peerHttpEndpoints(id), sign: (to, m, path, range) => fed.signPeerRequest(to, m, path, range) } : null;
    };
    const announce = (): number => {
      const fed = federationOf(app);
      if (!fed || !offers) return 0;
      let n = 0;
      for (const o of offers.list()) n += fed.offerUpdate(o).length;
      return n;
    };
    const pull = new PeerPull({
      updateDir, service, maxBytes: c["update.maxBundleBytes"], chunkBytes: c["update.pullChunkBytes"],
      policy: { trustedKeys: c["update.trustedKeys"], board: c["node.board"], runningVersion: packageVersion() },
      pullEnabled: c["update.pullFromPeers"], autoApply: c["update.autoApplyFromPeers"], offers, audit: record, log: app.log, link,
      onShared: () => announce(),
    });
    const share = async (path: string, move: boolean): Promise<BundleOffer | null> => {
      if (!offers) return null;
      const o = await offers.add(path, move);
      announce();
      return o;
    };
    app.decorate("updatePeers", { pull, offers, announce, share } satisfies UpdatePeers);
    let timer: NodeJS.Timeout | undefined;
    let first: NodeJS.Timeout | undefined;
    app.addHook("onReady", async () => {
      const fed = app.hasDecorator("federation") ? app.federation : null;
      // Offers are weighed only where an update can be applied (slots and board set).
      fed?.onUpdateOffer((from, body) => (service.configured ? pull.onOffer(from, body) : null));
      if (offers) fed?.serveBundlesFrom((sha) => offers.fileOf(sha));
      if (service.configured) pull.resume();
      timer = setInterval(announce, c["update.offerIntervalSeconds"] * 1000).unref();
      // Once the broker link is up after a start, offer at once rather than an interval later.
      first = setInterval(() => {
        if (!federationOf(app)?.connected) return;
        announce();
        clearInterval(first);
      }, 2000).unref();
    });
    app.addHook("onClose", async () => {
      clearInterval(timer);
      clearInterval(first);
      await pull.close();
    });
    await app.register(updateRoutes, {
      service, maxBundleBytes: c["update.maxBundleBytes"], onChange: drain, pull, offers,
      share: async (path) => {
        await share(path, true);
      },
      addOffer: async (path, actor) => {
        const m = await verifyForSharing(path, c["update.trustedKeys"]);
        const o = (await share(path, true)) as BundleOffer;
        record({ type: "update.offer_added", actor, subject: m.version, details: { version: m.version, board: m.board, size: o.size, sha256: o.sha256 } });
        return o;
      },
    });
  },
  { name: "sovereign-update", dependencies: ["sovereign-db", "sovereign-audit", "sovereign-auth", "sovereign-metrics"] },
);
