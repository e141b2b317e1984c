import type { KeyObject } from "node:crypto";
import { signValue, verifyValue } from "./signing.js";
import type { MessageKind } from "./trust.js";

/**
 * A control message between two nodes, signed by the sender over its
 * canonical form (minus `sig`). `to` binds it to one recipient and `ts` to a
 * time window, so it cannot be redirected or replayed later. Knowledge
 * packets travel in "packet" messages that need no second signature: the
 * packet carries its author's.
 */
export interface Envelope {
  v: 1;
  kind: MessageKind;
  from: string;
  to: string;
  ts: number;
  body: unknown;
  sig?: string;
}

export function sealMessage(key: KeyObject, kind: MessageKind, from: string, to: string, body: unknown, now = Date.now()): string {
  const env: Envelope = { v: 1, kind, from, to, ts: now, body };
  env.sig = signValue(key, "message", env);
  return JSON.stringify(env);
}

/** A "packet" message: the author's signed packet plus `prev`, the previous log entry meant for this recipient. */
export function packetMessage(from: string, to: string, prev: number, packetJson: string): string {
  return `{"v":1,"kind":"packet","from":${JSON.stringify(from)},"to":${JSON.stringify(to)},"prev":${prev},"packet":${packetJson}}`;
}

export function verifyMessage(env: Envelope, publicKeyB64: string): boolean {
  const { sig, ...unsigned } = env;
  if (typeof sig !== "string") return false;
  return verifyValue(publicKeyB64, "message", unsigned, sig);
}

/** Best-effort sender of a payload we will not parse (oversized): our encoder puts `from` near the start. */
export function peekSender(payload: Buffer): string | null {
  const m = /"from":"([a-z2-7]{26})"/.exec(payload.subarray(0, 256).toString("latin1"));
  return m?.[1] ?? null;
}
