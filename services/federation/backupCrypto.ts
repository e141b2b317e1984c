import {
  createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject,
} from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { canonicalBytes } from "./canonicalJson.js";

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

export interface SealedChunk {
  alg: "x25519-hkdf-sha256-aes256gcm";
  /** Ephemeral X25519 public key, base64. */
  epk: string;
  nonce: string;
  ciphertext: string;
  tag: string;
}

function deriveKey(shared: Buffer, epk: string, recipient: string): Buffer {
  return Buffer.from(hkdfSync("sha256", shared, Buffer.from(`${epk}|${recipient}`), "sovereign-backup-mirror-v1", 32));
}

/**
 * Encrypts to a peer's X25519 key (ECIES: a fresh ephemeral key per chunk,
 * HKDF-SHA256, AES-256-GCM). `aad` (the chunk's identity) is authenticated, so a
 * chunk cannot be moved to another backup or position unnoticed.
 */
export function sealTo(recipientB64: string, plaintext: Buffer, aad: unknown): SealedChunk {
  const eph = generateKeyPairSync("x25519");
  const spki = eph.publicKey.export({ format: "der", type: "spki" });
  const epk = spki.subarray(spki.length - 32).toString("base64");
  const key = deriveKey(diffieHellman({ privateKey: eph.privateKey, publicKey: x25519Public(recipientB64) }), epk, recipientB64);
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(canonicalBytes(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { alg: "x25519-hkdf-sha256-aes256gcm", epk, nonce: nonce.toString("base64"), ciphertext: ciphertext.toString("base64"), tag: cipher.getAuthTag().toString("base64") };
}

/** Decrypts a chunk sealed to this key; throws if it was altered or sealed to someone else. */
export function openSealed(key: EncryptionKey, sealed: SealedChunk, aad: unknown): Buffer {
  const shared = diffieHellman({ privateKey: key.privateKey, publicKey: x25519Public(sealed.epk) });
  const k = deriveKey(shared, sealed.epk, key.publicKeyB64);
  const decipher = createDecipheriv("aes-256-gcm", k, Buffer.from(sealed.nonce, "base64"));
  decipher.setAAD(canonicalBytes(aad));
  decipher.setAuthTag(Buffer.from(sealed.tag, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, "base64")), decipher.final()]);
}
