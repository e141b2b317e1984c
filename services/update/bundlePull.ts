import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { open, statfs, truncate, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { compareVersions } from "../../core/compareVersions.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { sha256File } from "../../core/fs/sha256File.js";
import { writePrivateJson } from "../../core/fs/writePrivateFile.js";
import { headerLength, parseEnvelope, PREAMBLE_BYTES, verifyEnvelope, type BundleManifest, type VerifyPolicy } from "./bundleFormat.js";
import type { ProgressPhase } from "./bundleReader.js";
import { verifyBundleFile } from "./verifyBundleFile.js";
import type { BundleOffer, OfferStore } from "./offerStore.js";
import { readState } from "./UpdateState.js";
import type { UpdateAuditEvent, UpdateService } from "./UpdateService.js";
import "./errors.js";

/** What the pull needs from federation (services/federation through the plugin): tiers, the peer's HTTP endpoints, signed requests. */
export interface PeerLink {
  tierOf(nodeId: string): string;
  endpoints(nodeId: string): string[];
  sign(to: string, method: string, path: string, range: string): Record<string, string>;
}

export type PullPhase = "pulling" | "verifying" | "pulled" | "applying" | "applied" | "failed";

/** The pull as GET /api/update shows it. */
export interface PullStatus {
  phase: PullPhase;
  peer: string;
  offer: Omit<BundleOffer, "header" | "v">;
  /** Bytes of the bundle on disk (pulling), or of the current pass (verifying, applying). */
  doneBytes: number;
  totalBytes: number;
  /** Where this run of the download started (bytes already on disk from an earlier, interrupted one). */
  resumedFrom: number;
  /** Bytes and Range requests fetched over HTTP by this run. */
  fetchedBytes: number;
  chunks: number;
  applyPhase: ProgressPhase | null;
  manifest: BundleManifest | null;
  error: { code: string; message: string } | null;
  startedAt: string;
}

/** The sidecar next to pull.partial: which offer the bytes belong to, and how many are on disk for sure (synced). */
export interface Sidecar {
  v: 1;
  peer: string;
  offer: BundleOffer;
  /** Bytes of pull.partial written and synced; a resume truncates to this. */
  synced: number;
  /** The whole bundle arrived and passed the verify pass: it is update/pulled.sovupdate. */
  ready: boolean;
  startedAt: string;
}

export interface PeerPullOptions {
  updateDir: string;
  service: UpdateService;
  policy: Omit<VerifyPolicy, "allowDowngrade">;
  maxBytes: number;
  chunkBytes: number;
  pullEnabled: boolean;
  autoApply: boolean;
  /** Where applied bundles go to be offered on (null: not shared; they are deleted). */
  offers: OfferStore | null;
  audit: (e: UpdateAuditEvent) => void;
  log: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void };
  link: () => PeerLink | null;
  /** Free bytes where the download goes (statfs by default). */
  freeBytes?: (dir: string) => Promise<number>;
  /** Called after a bundle pulled from a peer was applied and kept (so the plugin offers it on). */
  onShared?: (offer: BundleOffer) => void;
}

/** Space left free beyond the download itself, so a pull never fills the data partition. */
export const PULL_RESERVE_BYTES = 64 * 1024 * 1024;
const ATTEMPTS_PER_CHUNK = 3;

const SHA = /^[0-9a-f]{64}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Shape-checks a peer's offer body; nothing in it is trusted yet. */
export function parseOffer(body: unknown): BundleOffer {
  const bad = (why: string): SovereignError => new SovereignError("UPDATE_OFFER_MALFORMED", `The update offer is malformed: ${why}.`);
  if (!isObject(body) || body.v !== 1) throw bad("not a version 1 offer");
  const { version, board, size, sha256, header } = body;
  if (typeof version !== "string" || version.length === 0 || version.length > 128) throw bad("version");
  if (typeof board !== "string" || board.length === 0 || board.length > 128) throw bad("board");
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size <= PREAMBLE_BYTES) throw bad("size");
  if (typeof sha256 !== "string" || !SHA.test(sha256)) throw bad("sha256");
  if (typeof header !== "string" || header.length > 2 * 1024 * 1024) throw bad("header");
  return { v: 1, version, board, size, sha256, header };
}

/**
 * Every check an offer passes before one byte of the body is fetched: the
 * signed header it carries is checked like a bundle's (signature present, key
 * in update.trustedKeys, signature valid, board, the offered size equal to
 * what the manifest describes, not older than the running version), its
 * fields must match that header, and it must be newer than what runs.
 */
export function checkOffer(offer: BundleOffer, policy: Omit<VerifyPolicy, "allowDowngrade">, maxBytes: number): BundleManifest {
  const head = Buffer.from(offer.header, "base64");
  const n = headerLength(head.subarray(0, PREAMBLE_BYTES));
  if (head.length !== PREAMBLE_BYTES + n) throw new SovereignError("UPDATE_OFFER_MALFORMED", "The offer's header is not the bundle's whole header.");
  const manifest = verifyEnvelope(parseEnvelope(head.subarray(PREAMBLE_BYTES)), n, offer.size, { ...policy, allowDowngrade: false });
  if (manifest.version !== offer.version || manifest.board !== offer.board) {
    throw new SovereignError("UPDATE_OFFER_MALFORMED", `The offer says ${offer.version} for ${offer.board}; its signed header says ${manifest.version} for ${manifest.board}.`);
  }
  if (compareVersions(manifest.version, policy.runningVersion) === 0) throw new SovereignError("UPDATE_OFFER_NOT_NEWER", `This node runs ${manifest.version} already.`);
  if (offer.size > maxBytes) throw new SovereignError("UPDATE_OFFER_TOO_LARGE", `The offered bundle is ${offer.size} bytes; update.maxBundleBytes is ${maxBytes}.`);
  return manifest;
}

async function statfsFree(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

/**
 * The fourth way to apply: a bundle a core peer offers, fetched in HTTP Range
 * chunks into update/pull.partial (a sidecar, update/pull.json, names the
 * offer and the bytes synced), resumed after a restart or a dropped
 * connection, checked against the offered sha256 and header, verified, and
 * then applied through UpdateService.apply() like an upload: automatically
 * with update.autoApplyFromPeers, otherwise when the admin says so.
 */
export class PeerPull {
  readonly partialPath: string;
  readonly sidecarPath: string;
  readonly pulledPath: string;
  /** "chunk" ({ doneBytes, chunks }) after each chunk is on disk and recorded in the sidecar. */
  readonly events = new EventEmitter();
  private current: PullStatus | null = null;
  private running: Promise<void> | null = null;
  private controller: AbortController | null = null;
  private closed = false;
  /** Offers already refused (peer and the offer's hash), so a peer re-offering every few minutes is audited once. */
  private readonly refused = new Set<string>();

  constructor(private readonly o: PeerPullOptions) {
    this.partialPath = join(o.updateDir, "pull.partial");
    this.sidecarPath = join(o.updateDir, "pull.json");
    this.pulledPath = join(o.updateDir, "pulled.sovupdate");
  }

  status(): PullStatus | null {
    return this.current ? { ...this.current } : null;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  private readSidecar(): Sidecar | null {
    try {
      const s = JSON.parse(readFileSync(this.sidecarPath, "utf8")) as Sidecar;
      return s.v === 1 && isObject(s.offer) ? s : null;
    } catch {
      return null;
    }
  }

  private writeSidecar(s: Sidecar): void {
    writePrivateJson(this.sidecarPath, s);
  }

  private discard(): void {
    for (const p of [this.partialPath, this.pulledPath, this.sidecarPath]) rmSync(p, { force: true });
  }

  /**
   * A core peer's offer, from the federation inbox. Checked at once (a refusal is audited once per
   * peer and bundle); an accepted one starts or resumes the pull in the background. Returns a drop
   * reason for federation's counters, or null.
   */
  onOffer(from: string, body: unknown): string | null {
    let offer: BundleOffer;
    try {
      offer = parseOffer(body);
    } catch (err) {
      this.refuse(from, null, err as SovereignError);
      return "malformed";
    }
    const key = offerKey(from, offer);
    if (this.refused.has(key)) return null;
    const side = this.readSidecar();
    if (side?.offer.sha256 === offer.sha256 && (this.running || side.ready)) return null;
    if (this.running) return null; // one pull at a time; the peer offers again
    try {
      const link = this.o.link();
      const tier = link?.tierOf(from) ?? "unknown";
      if (tier !== "core") throw new SovereignError("UPDATE_OFFER_PEER_NOT_CORE", `The offer came from a ${tier} peer.`);
      checkOffer(offer, this.o.policy, this.o.maxBytes);
      this.notAlreadyHere(offer.version);
      if (side && side.offer.sha256 !== offer.sha256 && compareVersions(offer.version, side.offer.version) <= 0) return null; // we hold a newer or equal one
    } catch (err) {
      this.refused.add(key);
      if (this.refused.size > 1000) this.refused.clear();
      this.refuse(from, offer, err as SovereignError);
      return null;
    }
    this.o.audit({ type: "update.offer_received", actor: from, subject: offer.version, details: { peer: from, version: offer.version, board: offer.board, size: offer.size, sha256: offer.sha256 } });
    if (!this.o.pullEnabled) return null;
    this.start(from, offer);
    return null;
  }

  private refuse(from: string, offer: BundleOffer | null, err: SovereignError): void {
    const code = err instanceof SovereignError ? err.code : "INTERNAL";
    this.o.audit({
      type: "update.offer_refused", actor: from, subject: offer?.version ?? null,
      details: { peer: from, code, message: err.message, ...(offer ? { version: offer.version, board: offer.board, sha256: offer.sha256, size: offer.size } : {}) },
    });
    this.o.log.warn({ peer: from, code }, "update: refused a peer's update offer");
  }

  /** A version already written, pending, on trial or rolled back here is not fetched again. */
  private notAlreadyHere(version: string): void {
    const s = readState(this.o.service.statePath);
    if (s.pending?.version === version || s.trial?.version === version) throw new SovereignError("UPDATE_OFFER_NOT_NEWER", `Version ${version} is already written here and waits for a restart or its trial.`);
    for (const slot of ["a", "b"] as const) {
      const r = s.slots[slot];
      if (r.version === version && r.condition === "bad") throw new SovereignError("UPDATE_OFFER_NOT_NEWER", `Version ${version} failed its trial on this node (slot ${slot}); it is not fetched again.`);
    }
  }

  private start(peer: string, offer: BundleOffer): void {
    // A node shutting down starts no new download (an offer arriving during close would outlive it).
    if (this.closed) return;
    const controller = new AbortController();
    this.controller = controller;
    this.running = this.run(peer, offer, controller.signal).finally(() => {
      this.running = null;
      if (this.controller === controller) this.controller = null;
    });
  }

  /** At start: a download that was interrupted resumes; a pulled, verified bundle waits (or is applied with autoApplyFromPeers). */
  resume(): void {
    const side = this.readSidecar();
    if (!side) {
      rmSync(this.partialPath, { force: true });
      return;
    }
    const base = { peer: side.peer, offer: offerView(side.offer), resumedFrom: 0, fetchedBytes: 0, chunks: 0, applyPhase: null, manifest: null, error: null, startedAt: side.startedAt };
    if (side.ready && existsSync(this.pulledPath)) {
      this.current = { ...base, phase: "pulled", doneBytes: side.offer.size, totalBytes: side.offer.size };
      if (this.o.autoApply) this.startApply("system");
      return;
    }
    if (!this.o.pullEnabled) return;
    this.o.log.info({ peer: side.peer, version: side.offer.version }, "update: resuming the pull of a peer's bundle");
    this.start(side.peer, side.offer);
  }

  private async run(peer: string, offer: BundleOffer, signal: AbortSignal): Promise<void> {
    const st: PullStatus = {
      phase: "pulling", peer, offer: offerView(offer), doneBytes: 0, totalBytes: offer.size, resumedFrom: 0, fetchedBytes: 0, chunks: 0,
      applyPhase: null, manifest: null, error: null, startedAt: new Date().toISOString(),
    };
    this.current = st;
    try {
      mkdirSync(this.o.updateDir, { recursive: true, mode: 0o700 });
      let side = this.readSidecar();
      if (!side || side.offer.sha256 !== offer.sha256 || side.ready) {
        this.discard();
        side = { v: 1, peer, offer, synced: 0, ready: false, startedAt: st.startedAt };
        this.writeSidecar(side);
      } else {
        side.peer = peer;
        st.startedAt = side.startedAt;
      }
      // What is on disk for sure: the synced mark (a crash may leave unsynced bytes past it).
      let have = existsSync(this.partialPath) ? Math.min(statSync(this.partialPath).size, side.synced) : 0;
      await (existsSync(this.partialPath) ? truncate(this.partialPath, have) : open(this.partialPath, "w", 0o600).then((f) => f.close()));
      st.resumedFrom = have;
      st.doneBytes = have;
      const need = offer.size - have + PULL_RESERVE_BYTES;
      const free = await (this.o.freeBytes ?? statfsFree)(this.o.updateDir);
      if (free < need) {
        throw new SovereignError("UPDATE_NO_SPACE", `The download needs ${offer.size - have} more bytes plus ${PULL_RESERVE_BYTES} kept free; ${free} are free under ${this.o.updateDir}.`, { details: { needed: need, free } });
      }
      this.o.audit({ type: "update.pull_started", actor: peer, subject: offer.version, details: { peer, version: offer.version, sha256: offer.sha256, size: offer.size, resumeFrom: have } });
      const fh = await open(this.partialPath, "r+");
      try {
        while (have < offer.size) {
          if (signal.aborted) return;
          const end = Math.min(have + this.o.chunkBytes, offer.size) - 1;
          const got = await this.fetchRange(peer, offer, have, end, fh, signal, st);
          if (got === null) return; // aborted: the bytes written so far are synced at the next start's truncate
          have += got;
          await fh.datasync();
          side.synced = have;
          this.writeSidecar(side);
          st.doneBytes = have;
          this.events.emit("chunk", { doneBytes: have, chunks: st.chunks });
        }
      } finally {
        await fh.close();
      }
      st.phase = "verifying";
      const head = Buffer.from(offer.header, "base64");
      const first = Buffer.alloc(head.length);
      const rf = await open(this.partialPath, "r");
      try {
        await rf.read(first, 0, first.length, 0);
      } finally {
        await rf.close();
      }
      const sha = await sha256File(this.partialPath);
      if (sha !== offer.sha256 || !first.equals(head)) {
        this.discard();
        throw new SovereignError("UPDATE_PULL_CORRUPT", sha !== offer.sha256 ? `The fetched bundle hashes to ${sha.slice(0, 16)}…, not the offered ${offer.sha256.slice(0, 16)}….` : "The fetched bundle does not start with the offered header.");
      }
      renameSync(this.partialPath, this.pulledPath);
      side.ready = true;
      this.writeSidecar(side);
      try {
        const b = await verifyBundleFile(this.pulledPath, { ...this.o.policy, allowDowngrade: false }, (_p, done, total) => {
          st.doneBytes = done;
          st.totalBytes = total;
        });
        st.manifest = b.manifest;
      } catch (err) {
        this.discard();
        throw err;
      }
      st.phase = "pulled";
      st.doneBytes = offer.size;
      st.totalBytes = offer.size;
      this.o.audit({ type: "update.pulled", actor: peer, subject: offer.version, details: { peer, version: offer.version, sha256: offer.sha256, bytes: offer.size, resumedFrom: st.resumedFrom, fetchedBytes: st.fetchedBytes, chunks: st.chunks } });
      this.o.log.info({ peer, version: offer.version, fetched: st.fetchedBytes, chunks: st.chunks }, "update: pulled and verified a peer's bundle");
      if (this.o.autoApply) await this.applyPulled("system");
    } catch (err) {
      if (signal.aborted) return;
      const e = err instanceof SovereignError ? err : new SovereignError("UPDATE_PULL_FAILED", (err as Error).message);
      st.phase = "failed";
      st.error = { code: e.code, message: e.message };
      // A peer that served bytes other than it offered is not asked for that bundle again (until a restart).
      if (e.code === "UPDATE_PULL_CORRUPT") this.refused.add(offerKey(peer, offer));
      this.o.audit({ type: "update.pull_failed", actor: peer, subject: offer.version, details: { peer, version: offer.version, sha256: offer.sha256, code: e.code, message: e.message, bytesOnDisk: st.doneBytes } });
      this.o.log.warn({ peer, code: e.code, err: e.message }, "update: pulling a peer's bundle failed");
    }
  }

  /**
   * One Range request, written at `start`; retried (from what arrived) on a dropped connection.
   * Returns the bytes written, or null when aborted.
   */
  private async fetchRange(peer: string, offer: BundleOffer, start: number, end: number, fh: FileHandle, signal: AbortSignal, st: PullStatus): Promise<number | null> {
    const link = this.o.link();
    if (!link) throw new SovereignError("UPDATE_PULL_FAILED", "Federation is off on this node, so the peer cannot be reached.");
    if (link.tierOf(peer) !== "core") throw new SovereignError("UPDATE_OFFER_PEER_NOT_CORE", `Peer ${peer} is no longer at trust tier core; the download stopped.`);
    const endpoints = link.endpoints(peer);
    if (endpoints.length === 0) throw new SovereignError("UPDATE_PULL_FAILED", `Peer ${peer}'s signed manifest names no HTTP endpoint this node can reach.`);
    let pos = start;
    let lastError = "";
    for (let attempt = 0; attempt < ATTEMPTS_PER_CHUNK * endpoints.length; attempt++) {
      if (signal.aborted) return null;
      if (attempt > 0) await sleep(Math.min(4000, 250 * 2 ** attempt), signal);
      const url = new URL(`/api/federation/update-bundles/${offer.sha256}`, endpoints[attempt % endpoints.length]);
      const range = `bytes=${pos}-${end}`;
      try {
        const res = await peerGet(url, { ...link.sign(peer, "GET", url.pathname + url.search, range), range }, signal);
        if (res.status !== 206) {
          const text = await res.text();
          // A refusal (tier, signature, bundle gone) is not a dropped connection: no retry.
          if (res.status >= 400 && res.status < 500) throw new SovereignError("UPDATE_PULL_FAILED", `The peer answered ${res.status}: ${text}`);
          throw new Error(`the peer answered ${res.status}`);
        }
        const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.header("content-range") ?? "");
        if (!cr || Number(cr[1]) !== pos || Number(cr[2]) !== end || Number(cr[3]) !== offer.size) {
          throw new SovereignError("UPDATE_PULL_FAILED", `The peer answered range ${res.header("content-range") ?? "(none)"} for ${range} of ${offer.size} bytes.`);
        }
        st.chunks++;
        for await (const chunk of res.body) {
          if (pos + chunk.length > end + 1) throw new SovereignError("UPDATE_PULL_FAILED", "The peer sent more bytes than the range asked for.");
          await fh.write(chunk, 0, chunk.length, pos);
          pos += chunk.length;
          st.fetchedBytes += chunk.length;
          st.doneBytes = pos;
        }
        if (pos === end + 1) return pos - start;
        lastError = `the connection ended after ${pos - start} of ${end - start + 1} bytes`;
      } catch (err) {
        if (signal.aborted) return null;
        if (err instanceof SovereignError) throw err;
        lastError = (err as Error).message;
      }
    }
    throw new SovereignError("UPDATE_PULL_FAILED", `Fetching bytes ${start}-${end} from peer ${peer} failed ${ATTEMPTS_PER_CHUNK * endpoints.length} times (${lastError}); the ${pos} bytes on disk are kept and the pull resumes at the next offer or start.`);
  }

  /** The admin's (or autoApplyFromPeers') "apply": the pulled bundle through UpdateService.apply(), then kept to offer on, or deleted. */
  startApply(actor: string | null): void {
    if (this.running) throw new SovereignError("UPDATE_BUSY", "The pull from a peer is still running.");
    const side = this.readSidecar();
    if (!side?.ready || !existsSync(this.pulledPath)) throw new SovereignError("UPDATE_NOTHING_PULLED");
    this.running = this.applyPulled(actor).finally(() => {
      this.running = null;
    });
  }

  private async applyPulled(actor: string | null): Promise<void> {
    const side = this.readSidecar();
    if (!side?.ready || !existsSync(this.pulledPath)) throw new SovereignError("UPDATE_NOTHING_PULLED");
    const st: PullStatus = this.current?.offer.sha256 === side.offer.sha256 ? this.current : {
      phase: "pulled", peer: side.peer, offer: offerView(side.offer), doneBytes: 0, totalBytes: side.offer.size, resumedFrom: 0, fetchedBytes: 0, chunks: 0, applyPhase: null, manifest: null, error: null, startedAt: side.startedAt,
    };
    this.current = st;
    st.phase = "applying";
    st.error = null;
    try {
      await this.o.service.apply(this.pulledPath, {
        via: "peer", actor,
        onProgress: (phase, done, total) => {
          st.applyPhase = phase;
          st.doneBytes = done;
          st.totalBytes = total;
        },
        onVerified: (m) => {
          st.manifest = m;
        },
      });
    } catch (err) {
      const code = err instanceof SovereignError ? err.code : "INTERNAL";
      st.error = { code, message: (err as Error).message };
      if (code === "UPDATE_BUSY") {
        st.phase = "pulled"; // another apply was running: the bundle stays, ready
        return;
      }
      st.phase = "failed";
      this.discard();
      return;
    }
    let shared: BundleOffer | null = null;
    if (this.o.offers) {
      try {
        shared = await this.o.offers.add(this.pulledPath, true);
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, "update: could not keep the applied bundle to offer on");
      }
    }
    this.discard();
    st.phase = "applied";
    st.applyPhase = null;
    if (shared) this.o.onShared?.(shared);
  }

  /** Stops a running download (it resumes at the next start) and waits for it. */
  async close(): Promise<void> {
    this.closed = true;
    this.controller?.abort();
    await this.running?.catch(() => undefined);
  }
}

/** The whole offer, not only its sha256: a bad offer naming a good bundle's sha256 must not shadow the good one. */
function offerKey(from: string, offer: BundleOffer): string {
  return `${from}/${createHash("sha256").update(JSON.stringify(offer)).digest("hex")}`;
}

interface PeerResponse {
  status: number;
  header(name: string): string | null;
  body: AsyncIterable<Buffer>;
  text(): Promise<string>;
}

/**
 * One GET to a peer, over HTTP or HTTPS. A node's certificate comes from its own CA, which this node has
 * no copy of, so it is not checked: the request is signed (it cannot be altered, redirected to another
 * node or replayed after the window), and what comes back must hash to the offered sha256 and carry a
 * signature by a trusted key; the link adds only confidentiality against a passive listener.
 */
function peerGet(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<PeerResponse> {
  const get = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = get(url, { method: "GET", headers, signal, timeout: 30_000, ...(url.protocol === "https:" ? { rejectUnauthorized: false } : {}) }, (res) => {
      res.on("error", () => undefined);
      resolve({
        status: res.statusCode ?? 0,
        header: (name) => {
          const v = res.headers[name.toLowerCase()];
          return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
        },
        body: res,
        text: async () => {
          let t = "";
          for await (const c of res) if (t.length < 300) t += (c as Buffer).toString("utf8");
          return t.slice(0, 300);
        },
      });
    });
    req.on("timeout", () => req.destroy(new Error("no answer from the peer in 30 s")));
    req.on("error", reject);
    req.end();
  });
}

function offerView(o: BundleOffer): PullStatus["offer"] {
  return { version: o.version, board: o.board, size: o.size, sha256: o.sha256 };
}
