import {
  createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject,
} from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { canonicalBytes } from "../../core/canonicalJson.js";

const X25519_SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

/**
 * The node's X25519 key for receiving encrypted backups. It is separate from
 * the ed25519 signing key (no key reuse across algorithms) and bound to it by
 * being announced inside the signed manifest. Stored 0600 beside node.key.
 */
export class EncryptionKey {
  private constructor(readonly privateKey: KeyObject, readonly publicKeyB64: string) {}

  static loadOrCreate(dataDir: string): EncryptionKey {
    const path = join(dataDir, "keys", "federation-x25519.key");
    let priv: KeyObject;
    if (existsSync(path)) {
      priv = createPrivateKey({ key: Buffer.from(readFileSync(path, "utf8").trim(), "base64"), format: "der", type: "pkcs8" });
      chmodSync(path, 0o600);
    } else {
      priv = generateKeyPairSync("x25519").privateKey;
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const tmp = `${path}.tmp`;
      writeFileSync(tmp, `${priv.export({ format: "der", type: "pkcs8" }).toString("base64")}\n`, { mode: 0o600 });
      renameSync(tmp, path);
    }
    const spki = createPublicKey(priv).export({ format: "der", type: "spki" });
    return new EncryptionKey(priv, spki.subarray(spki.length - 32).toString("base64"));
  }
}

function x25519Public(b64: string): KeyObject {
  const raw = Buffer.from(b64, "base64");
  if (raw.length !== 32) throw new TypeError("X25519 public key must be 32 bytes");
  return createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

/** The chunk's data key, sealed to one reader (ECIES: ephemeral X25519, HKDF-SHA256, AES-256-GCM). */
export interface WrappedKey {
  /** The reader's X25519 public key, base64. */
  to: string;
  epk: string;
  nonce: string;
  wrapped: string;
  tag: string;
}

export interface SealedChunk {
  alg: "x25519-hkdf-sha256-aes256gcm-v2";
  nonce: string;
  ciphertext: string;
  tag: string;
  /** Who can read it: the data key wrapped once per reader. */
  readers: WrappedKey[];
}

function deriveKey(shared: Buffer, epk: string, recipient: string): Buffer {
  return Buffer.from(hkdfSync("sha256", shared, Buffer.from(`${epk}|${recipient}`), "sovereign-backup-mirror-v2", 32));
}

function gcmSeal(key: Buffer, plaintext: Buffer, aad: Buffer): { nonce: string; ciphertext: string; tag: string } {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { nonce: nonce.toString("base64"), ciphertext: ciphertext.toString("base64"), tag: cipher.getAuthTag().toString("base64") };
}

function gcmOpen(key: Buffer, nonce: string, ciphertext: string, tag: string, aad: Buffer): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(nonce, "base64"));
  decipher.setAAD(aad);
  decipher.setAuthTag(Buffer.from(tag, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64")), decipher.final()]);
}

/**
 * Encrypts for a set of readers: a fresh AES-256-GCM data key per chunk,
 * wrapped for each reader's X25519 key. `aad` (the chunk's identity) is
 * authenticated by both layers, so a chunk cannot be moved to another backup
 * or position unnoticed. Anyone else, the broker included, sees ciphertext.
 */
export function sealTo(readers: readonly string[], plaintext: Buffer, aad: unknown): SealedChunk {
  if (readers.length === 0) throw new TypeError("a sealed chunk needs at least one reader");
  const ad = canonicalBytes(aad);
  const dataKey = randomBytes(32);
  const body = gcmSeal(dataKey, plaintext, ad);
  const wraps = [...new Set(readers)].map((to): WrappedKey => {
    const eph = generateKeyPairSync("x25519");
    const spki = eph.publicKey.export({ format: "der", type: "spki" });
    const epk = spki.subarray(spki.length - 32).toString("base64");
    const kek = deriveKey(diffieHellman({ privateKey: eph.privateKey, publicKey: x25519Public(to) }), epk, to);
    const w = gcmSeal(kek, dataKey, ad);
    return { to, epk, nonce: w.nonce, wrapped: w.ciphertext, tag: w.tag };
  });
  return { alg: "x25519-hkdf-sha256-aes256gcm-v2", ...body, readers: wraps };
}

/** Decrypts a chunk this key is a reader of; throws if it was altered or this key is not among its readers. */
export function openSealed(key: EncryptionKey, sealed: SealedChunk, aad: unknown): Buffer {
  const w = sealed.readers.find((r) => r.to === key.publicKeyB64);
  if (!w) throw new Error("this key is not a reader of the chunk");
  const ad = canonicalBytes(aad);
  const kek = deriveKey(diffieHellman({ privateKey: key.privateKey, publicKey: x25519Public(w.epk) }), w.epk, key.publicKeyB64);
  const dataKey = gcmOpen(kek, w.nonce, w.wrapped, w.tag, ad);
  return gcmOpen(dataKey, sealed.nonce, sealed.ciphertext, sealed.tag, ad);
}
