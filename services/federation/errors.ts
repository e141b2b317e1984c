import { defineErrors, type CodesOf } from "../../core/errors/catalog.js";

export const federationErrors = defineErrors("federation", {
  FED_PEER_NOT_FOUND: { status: 404, description: "No peer with that node id or fingerprint is known.", hint: "The panel's Peers page (/#/peers) lists the known and discovered nodes (or `sovereign peer list`); a node becomes known once its signed manifest arrives." },
  FED_PEER_AMBIGUOUS: { status: 409, description: "More than one peer matches that prefix.", hint: "Give more characters of the node id or the whole fingerprint." },
  FED_FINGERPRINT_MISMATCH: { status: 409, description: "The fingerprint given does not match the peer's key; the peer was not approved.", hint: "Read the fingerprint on the other node's Peers page (/#/peers there, or `sovereign peer list`) and compare it aloud." },
  FED_TIER_INVALID: { status: 400, description: "The trust tier is not one of core, sandbox, external or unknown." },
  FED_SELF: { status: 400, description: "A node cannot change its own trust tier." },
  FED_DISABLED: { status: 409, description: "Federation is off on this node.", hint: "Set federation.enabled to true (SOVEREIGN_FEDERATION=true) and restart." },
  FED_PAYLOAD_TOO_LARGE: { status: 413, description: "The message is larger than federation.maxPayloadBytes and was not sent.", hint: "Raise federation.maxPayloadBytes on every node, or send smaller packets (backups are chunked)." },
  FED_OFFLOAD_NO_PEER: { status: 503, description: "No core peer has spare inference capacity and its breaker closed." },
  FED_OFFLOAD_PEER_LOST: { status: 502, description: "The peer serving an offloaded generation went away mid-stream.", hint: "Retry; the peer's breaker is now counting failures and the next request may run locally." },
  FED_OFFLOAD_TIMEOUT: { status: 504, description: "The peer serving an offloaded generation stopped answering." },
  FED_OFFLOAD_REFUSED: { status: 502, description: "The peer refused or failed the offloaded generation." },
  FED_NO_LOCAL_INFERENCE: { status: 503, description: "Inference is not available on this node, so there is nothing to fall back to." },
  FED_BACKUP_NO_CORE_PEER: { status: 409, description: "No core peer is known to mirror backups to.", hint: "Approve a peer as core on the Peers page (/#/peers), or with `sovereign peer approve ID --tier core`." },
  FED_MIRROR_NOT_FOUND: { status: 404, description: "This node holds no mirrored backup with that owner and id.", hint: "List held mirrors with `sovereign peer mirrors` or GET /api/federation/mirrors." },
  FED_MIRROR_INCOMPLETE: { status: 409, description: "Not every chunk of that mirrored backup has arrived yet.", hint: "Wait for the owner's next sync, or take an older complete mirror." },
  FED_MIRROR_INVALID: { status: 400, description: "The mirrored backup cannot be opened: not a mirror bundle, sealed to another node's key, altered, or its checksum does not match.", hint: "Open it on the node that made the backup (its keys/federation-x25519.key decrypts it)." },
  FED_BUNDLE_NOT_FOUND: { status: 404, description: "This node offers no update bundle with that sha256 (any more).", hint: "Offers are bounded (update.offersKeep); the peer's next offer names what it holds." },
  FED_RANGE_INVALID: { status: 416, description: "The Range header is not one range of bytes inside the file.", hint: "Send `Range: bytes=FIRST-LAST` (or `bytes=FIRST-`) within the offered size." },
});

declare module "../../core/errors/catalog.js" {
  interface ErrorCodeMap extends CodesOf<typeof federationErrors> {}
}
