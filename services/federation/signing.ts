import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { canonicalBytes } from "../../core/canonicalJson.js";

/**
 * ed25519 signing for federation. Keys are made by @noble/ed25519 (the node
 * identity); signing and verifying the many packets go through node:crypto's
 * native ed25519, which is the same algorithm (RFC 8032, deterministic, so the
 * signatures are byte-identical) and about twenty times faster than pure JS.
 */
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** Domain separation: a federation signature can never be mistaken for another use of the key. */
export const SIGNING_DOMAIN = "sovereign-federation-v1\n";

export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new TypeError("ed25519 secret key must be 32 bytes");
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
}

const publicKeyCache = new Map<string, KeyObject | null>();

/** A KeyObject for a raw 32-byte public key (base64), cached; null for a malformed key. */
export function publicKeyObject(publicKeyB64: string): KeyObject | null {
  const hit = publicKeyCache.get(publicKeyB64);
  if (hit !== undefined) return hit;
  let key: KeyObject | null = null;
  try {
    const raw = Buffer.from(publicKeyB64, "base64");
    if (raw.length === 32) key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
  } catch {
    key = null;
  }
  if (publicKeyCache.size > 10_000) publicKeyCache.clear();
  publicKeyCache.set(publicKeyB64, key);
  return key;
}

export function signingInput(purpose: string, value: unknown): Buffer {
  return Buffer.concat([Buffer.from(`${SIGNING_DOMAIN}${purpose}\n`, "utf8"), canonicalBytes(value)]);
}

/** Signs the canonical encoding of `value` for one purpose ("manifest", "packet", "message"). Base64 signature. */
export function signValue(key: KeyObject, purpose: string, value: unknown): string {
  return nodeSign(null, signingInput(purpose, value), key).toString("base64");
}

/** False for a wrong, malformed or mismatched signature or key; never throws. */
export function verifyValue(publicKeyB64: string, purpose: string, value: unknown, signatureB64: string): boolean {
  const key = publicKeyObject(publicKeyB64);
  if (!key || typeof signatureB64 !== "string") return false;
  try {
    const sig = Buffer.from(signatureB64, "base64");
    if (sig.length !== 64) return false;
    return nodeVerify(null, signingInput(purpose, value), key, sig);
  } catch {
    return false;
  }
}
