import type { KeyObject } from "node:crypto";
import { nodeIdOf } from "../identity/NodeIdentity.js";
import { signValue, verifyValue } from "./signing.js";

/**
 * Credentials a node presents to an embedded broker: user name = node id,
 * password = its public key, a timestamp and a signature over both, so the
 * broker knows the client holds the node id's key without any shared secret.
 */
export function brokerPassword(key: KeyObject, nodeId: string, publicKeyB64: string, now = Date.now()): string {
  return JSON.stringify({ pk: publicKeyB64, ts: now, sig: signValue(key, "broker-login", { nodeId, pk: publicKeyB64, ts: now }) });
}

export function checkBrokerLogin(username: string | undefined, password: Buffer | undefined, now: number, skewMs: number): string | null {
  if (!username || !password || password.length > 1024) return null;
  try {
    const p = JSON.parse(password.toString("utf8")) as { pk?: unknown; ts?: unknown; sig?: unknown };
    if (typeof p.pk !== "string" || typeof p.ts !== "number" || typeof p.sig !== "string") return null;
    if (Math.abs(now - p.ts) > skewMs) return null;
    const raw = Buffer.from(p.pk, "base64");
    if (raw.length !== 32 || nodeIdOf(new Uint8Array(raw)) !== username) return null;
    return verifyValue(p.pk, "broker-login", { nodeId: username, pk: p.pk, ts: p.ts }, p.sig) ? username : null;
  } catch {
    return null;
  }
}
