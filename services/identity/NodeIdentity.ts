import { createHash, createPrivateKey, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { generateSecretKey, publicKeyOf, sign, verify } from "../../core/ed25519.js";

/** Base32 (RFC 4648, lowercase, no padding): safe in host names and easy to read aloud. */
function base32(bytes: Uint8Array): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** The node id is derived from the public key, so it cannot be claimed without the key. */
export function nodeIdOf(publicKey: Uint8Array): string {
  return base32(createHash("sha256").update(publicKey).digest()).slice(0, 26);
}

/** A short fingerprint people compare aloud when pairing: 4 groups of 4 characters. */
export function fingerprintOf(publicKey: Uint8Array): string {
  const s = base32(createHash("sha256").update(Buffer.from("sovereign-fingerprint")).update(publicKey).digest()).slice(0, 16).toUpperCase();
  return s.match(/.{4}/g)!.join("-");
}

/**
 * The node's ed25519 identity. Generated at first start (on the device, never
 * in an image) and stored 0600 in <dataDir>/keys/node.key.
 */
export class NodeIdentity {
  readonly publicKey: Uint8Array;
  readonly nodeId: string;
  readonly fingerprint: string;

  private constructor(private readonly secretKey: Uint8Array) {
    this.publicKey = publicKeyOf(secretKey);
    this.nodeId = nodeIdOf(this.publicKey);
    this.fingerprint = fingerprintOf(this.publicKey);
  }

  /** The identity the node made at its first start, or undefined before that (never creates one). */
  static load(dataDir: string): NodeIdentity | undefined {
    const path = join(dataDir, "keys", "node.key");
    return existsSync(path) ? NodeIdentity.loadOrCreate(dataDir) : undefined;
  }

  static loadOrCreate(dataDir: string): NodeIdentity {
    const path = join(dataDir, "keys", "node.key");
    if (existsSync(path)) {
      const raw = Buffer.from(readFileSync(path, "utf8").trim(), "base64");
      if (raw.length !== 32) throw new Error(`${path} does not hold a 32-byte ed25519 secret key`);
      chmodSync(path, 0o600);
      return new NodeIdentity(new Uint8Array(raw));
    }
    const secretKey = generateSecretKey();
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, `${Buffer.from(secretKey).toString("base64")}\n`, { mode: 0o600 });
    renameSync(tmp, path);
    return new NodeIdentity(secretKey);
  }

  static fromSecretKey(secretKey: Uint8Array): NodeIdentity {
    return new NodeIdentity(secretKey);
  }

  sign(message: Uint8Array): Uint8Array {
    return sign(message, this.secretKey);
  }

  verify(signature: Uint8Array, message: Uint8Array): boolean {
    return verify(signature, message, this.publicKey);
  }

  /**
   * The secret key as a node:crypto KeyObject, for callers that sign many
   * messages (federation) through the native ed25519 implementation.
   */
  privateKeyObject(): KeyObject {
    this.keyObject ??= createPrivateKey({
      key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), this.secretKey]),
      format: "der",
      type: "pkcs8",
    });
    return this.keyObject;
  }

  private keyObject: KeyObject | undefined;

  get publicKeyBase64(): string {
    return Buffer.from(this.publicKey).toString("base64");
  }

}
