import type { KeyObject } from "node:crypto";
import { nodeIdOf } from "../identity/NodeIdentity.js";
import type { HardwareReport } from "../../hardware/HardwareFacts.js";
import { signValue, verifyValue } from "./signing.js";

/** What a peer can lend: a summary of its hardware, its models and its free inference capacity. */
export interface Capabilities {
  hardware: { arch: string; model: string | null; cpuModel: string | null; cores: number; memoryBytes: number; gpu: string | null };
  models: string[];
  inference: { available: boolean; parallel: number; queueDepth: number; freeSlots: number };
}

/**
 * A node's signed self-description, retained on the broker. `seq` grows with
 * every issue (per signer, persisted), so an old manifest can never replace a newer one.
 */
export interface Manifest {
  v: 1;
  nodeId: string;
  name: string;
  /** ed25519 public key, base64 (32 bytes); nodeId is derived from it. */
  publicKey: string;
  /** X25519 public key, base64, that backups mirrored to this node are encrypted to. */
  encryptionKey: string;
  capabilities: Capabilities;
  endpoints: { http: string[]; mqtt: string[] };
  seq: number;
  /** Milliseconds since the epoch. */
  issuedAt: number;
  expiresAt: number;
  /** The highest sequence number in this node's packet log, so peers know when they lag. */
  logHead: number;
}

export interface SignedManifest {
  manifest: Manifest;
  sig: string;
}

export type ManifestRejection = "malformed" | "wrong-key" | "unknown-signer" | "bad-signature" | "expired" | "not-yet-valid" | "replay" | "rollback";

/** `clockTolerated`: accepted although it looks issued in the future, because this node's clock is not trusted (hardware/clockState.ts). */
export type ManifestVerdict = { ok: true; manifest: Manifest; clockTolerated?: true } | { ok: false; reason: ManifestRejection; nodeId?: string };

export interface VerifyManifestOptions {
  now: number;
  skewMs: number;
  /** The highest manifest seq already accepted from this signer (persisted), if any. */
  highWater: (nodeId: string) => number | undefined;
  /** The public key we already hold for this node id, if any. */
  knownKey: (nodeId: string) => string | undefined;
  /** Accept a self-consistent manifest from a node we have never seen (it then waits, unknown, for approval). */
  allowNewSigners: boolean;
  /**
   * This node's clock may be behind (not synced by NTP yet, or earlier than the image's build): a manifest
   * that looks issued in the future is what a slow clock shows, so it is accepted and the verdict says so.
   * Expiry still applies: a slow clock makes a manifest look younger, never older.
   */
  clockUntrusted?: boolean;
}

export function signManifest(manifest: Manifest, key: KeyObject): SignedManifest {
  return { manifest, sig: signValue(key, "manifest", manifest) };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isWellFormed(m: unknown): m is Manifest {
  if (!isObj(m) || m.v !== 1) return false;
  const str = (x: unknown, max = 256) => typeof x === "string" && x.length > 0 && x.length <= max;
  const int = (x: unknown) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
  if (!str(m.nodeId, 64) || !str(m.name, 128) || !str(m.publicKey, 64) || !str(m.encryptionKey, 64)) return false;
  if (!int(m.seq) || !int(m.issuedAt) || !int(m.expiresAt) || !int(m.logHead)) return false;
  const c = m.capabilities;
  if (!isObj(c) || !isObj(c.hardware) || !Array.isArray(c.models) || !isObj(c.inference)) return false;
  if (!c.models.every((x) => str(x, 256))) return false;
  const inf = c.inference;
  if (typeof inf.available !== "boolean" || !int(inf.parallel) || !int(inf.queueDepth) || !int(inf.freeSlots)) return false;
  const e = m.endpoints;
  if (!isObj(e) || !Array.isArray(e.http) || !Array.isArray(e.mqtt)) return false;
  return [...e.http, ...e.mqtt].every((x) => str(x, 512));
}

/**
 * Checks a manifest before anything in it is believed. The order matters:
 * identity and signature first (so a forger learns nothing from the rest),
 * then time, then the signer's high-water mark.
 */
export function verifyManifest(signed: unknown, o: VerifyManifestOptions): ManifestVerdict {
  if (!isObj(signed) || typeof signed.sig !== "string" || !isWellFormed(signed.manifest)) return { ok: false, reason: "malformed" };
  const m = signed.manifest;
  let derived: string;
  try {
    const raw = Buffer.from(m.publicKey, "base64");
    if (raw.length !== 32) return { ok: false, reason: "malformed", nodeId: m.nodeId };
    derived = nodeIdOf(new Uint8Array(raw));
  } catch {
    return { ok: false, reason: "malformed", nodeId: m.nodeId };
  }
  if (derived !== m.nodeId) return { ok: false, reason: "wrong-key", nodeId: m.nodeId };
  const known = o.knownKey(m.nodeId);
  if (known !== undefined && known !== m.publicKey) return { ok: false, reason: "wrong-key", nodeId: m.nodeId };
  if (known === undefined && !o.allowNewSigners) return { ok: false, reason: "unknown-signer", nodeId: m.nodeId };
  if (!verifyValue(m.publicKey, "manifest", m, signed.sig)) return { ok: false, reason: "bad-signature", nodeId: m.nodeId };
  const future = m.issuedAt > o.now + o.skewMs;
  if (future && !o.clockUntrusted) return { ok: false, reason: "not-yet-valid", nodeId: m.nodeId };
  if (m.expiresAt + o.skewMs < o.now || m.expiresAt < m.issuedAt) return { ok: false, reason: "expired", nodeId: m.nodeId };
  const hw = o.highWater(m.nodeId);
  if (hw !== undefined && m.seq === hw) return { ok: false, reason: "replay", nodeId: m.nodeId };
  if (hw !== undefined && m.seq < hw) return { ok: false, reason: "rollback", nodeId: m.nodeId };
  return future ? { ok: true, manifest: m, clockTolerated: true } : { ok: true, manifest: m };
}

/** The hardware part of the capabilities, from the node's detected facts. */
export function hardwareSummary(report: HardwareReport | undefined): Capabilities["hardware"] {
  const f = report?.facts;
  return {
    arch: f?.arch ?? "other",
    model: f?.model ?? null,
    cpuModel: f?.cpu.modelName ?? null,
    cores: f?.cpu.usableCpus ?? 1,
    memoryBytes: f?.memory.usableBytes ?? 0,
    gpu: f && f.gpu.kind !== "none" ? (f.gpu.name ?? f.gpu.kind) : null,
  };
}
