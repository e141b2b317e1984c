import type { KeyObject } from "node:crypto";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { PeerRow } from "./FederationStore.js";
import { signValue, verifyValue } from "./signing.js";
import { mayReceive, type Outbound } from "./trust.js";

/**
 * Signed HTTP requests between peers. Federation talks over MQTT; bulk bytes
 * (an update bundle, fetched in HTTP Range chunks) go straight to the peer's
 * HTTP endpoint from its signed manifest. The caller signs, with its node
 * key, what it asks for: method, path (with query), Range header, its id, the
 * addressee's id and the time. The server checks the signature against the
 * key it holds for that peer, the peer's tier and the time window, so only
 * an approved peer can ask, and a request cannot be redirected to another
 * node or replayed after the window. Bodies are not signed: what is served
 * (a signed bundle with a known sha256) is checked by its receiver.
 */
export const PEER_NODE_HEADER = "x-sovereign-node";
export const PEER_TS_HEADER = "x-sovereign-ts";
export const PEER_SIG_HEADER = "x-sovereign-sig";

interface SignedPart {
  from: string;
  to: string;
  method: string;
  path: string;
  range: string;
  ts: number;
}

export function signPeerRequest(key: KeyObject, from: string, to: string, method: string, path: string, range: string, now = Date.now()): Record<string, string> {
  const unsigned: SignedPart = { from, to, method: method.toUpperCase(), path, range, ts: now };
  return { [PEER_NODE_HEADER]: from, [PEER_TS_HEADER]: String(now), [PEER_SIG_HEADER]: signValue(key, "http-request", unsigned) };
}

const header = (headers: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * The peer that signed this request, or a coded refusal: UNAUTHENTICATED for a
 * missing or bad signature or a stale time, FORBIDDEN for a peer whose tier may
 * not receive `what`.
 */
export function verifyPeerRequest(
  request: { method: string; url: string; headers: Record<string, string | string[] | undefined> },
  self: string,
  peerOf: (nodeId: string) => PeerRow | undefined,
  what: Outbound,
  skewMs: number,
  now = Date.now(),
): PeerRow {
  const from = header(request.headers, PEER_NODE_HEADER);
  const ts = Number(header(request.headers, PEER_TS_HEADER));
  const sig = header(request.headers, PEER_SIG_HEADER);
  if (!from || !sig || !Number.isFinite(ts)) throw new SovereignError("UNAUTHENTICATED", "This route answers federation peers only: the request carries no peer signature.");
  const peer = peerOf(from);
  if (!peer) throw new SovereignError("UNAUTHENTICATED", "The request is signed by a node this node does not know.");
  const signed: SignedPart = { from, to: self, method: request.method.toUpperCase(), path: request.url, range: header(request.headers, "range") ?? "", ts };
  if (!verifyValue(peer.publicKey, "http-request", signed, sig)) throw new SovereignError("UNAUTHENTICATED", "The peer signature does not verify for this request.");
  if (Math.abs(now - ts) > skewMs) throw new SovereignError("UNAUTHENTICATED", "The peer request is outside the clock window (federation.clockSkewSeconds).");
  if (!mayReceive(peer.tier, what)) throw new SovereignError("FORBIDDEN", `A ${peer.tier} peer may not fetch this; only core peers may.`);
  return peer;
}
