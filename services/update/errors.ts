import { defineErrors, type CodesOf } from "../../core/errors/catalog.js";

export const updateErrors = defineErrors("update", {
  UPDATE_BUNDLE_MALFORMED: { status: 400, description: "The file is not a Sovereign update bundle, or its header or manifest is malformed.", hint: "Make the bundle with `sovereign image bundle --board <id>` and copy it whole." },
  UPDATE_SIGNATURE_MISSING: { status: 400, description: "The update bundle carries no signature; nothing was written.", hint: "Bundles are signed by `sovereign image bundle`; an unsigned file is never applied." },
  UPDATE_SIGNATURE_INVALID: { status: 400, description: "The update bundle's signature does not match its manifest; nothing was written.", hint: "The bundle was altered or damaged after signing: get a fresh copy from its builder." },
  UPDATE_KEY_UNTRUSTED: { status: 400, description: "The update bundle is signed by a key this node does not trust; nothing was written.", hint: "The node accepts only the keys in `update.trustedKeys` (pinned when the image was built)." },
  UPDATE_WRONG_BOARD: { status: 400, description: "The update bundle was built for another board; nothing was written.", hint: "Build the bundle with `--board` set to this node's board." },
  UPDATE_BUNDLE_TRUNCATED: { status: 400, description: "The update bundle is shorter or longer than its manifest says; nothing was written.", hint: "The copy is incomplete: copy or upload the bundle again." },
  UPDATE_PART_CORRUPT: { status: 400, description: "A part of the update bundle does not match its sha256 in the signed manifest; nothing was written.", hint: "The bundle was altered or damaged: get a fresh copy from its builder." },
  UPDATE_DOWNGRADE: { status: 409, description: "The update bundle is older than the running version; nothing was written.", hint: "An admin may install an older version on purpose with --allow-downgrade (CLI) or allowDowngrade=1 (API)." },
  UPDATE_WRITE_MISMATCH: { status: 500, description: "The bundle read while writing the inactive slot differed from the verified one (or the slot read back differently); the slot was not marked bootable.", hint: "Check the medium holding the bundle and the system disk, then apply again." },
  UPDATE_PART_UNPACK_FAILED: { status: 400, description: "A compressed part of the update bundle, though signed, does not unpack to its signed size and sha256 (it unpacks to more, to fewer, or is not gzip). Found by the verify pass, before anything is written; should the file change between the passes and it is found while writing, the inactive slot may be partly written, and it is not marked bootable.", hint: "The bundle was built wrong: get a fresh one from its builder. The running slot is untouched; the next good bundle rewrites the inactive one whole." },
  UPDATE_SLOT_TOO_SMALL: { status: 400, description: "A part of the update bundle is larger than the inactive slot (or, on a Raspberry Pi A/B node, its boot partition); nothing was written." },
  UPDATE_NOT_CONFIGURED: { status: 409, description: "This node has no A/B slots configured (`update.slotA`, `update.slotB`), so it cannot apply updates.", hint: "Images with the A/B layout set these; a development node has none." },
  UPDATE_BUSY: { status: 409, description: "Another update is being applied right now.", hint: "Wait for it to finish (see `sovereign update status`)." },
  UPDATE_NOTHING_PENDING: { status: 409, description: "There is no verified update waiting for a restart." },
  UPDATE_BOOT_PARTITION: { status: 500, description: "The boot partition does not show the change just written to it (is it mounted at update.bootDir, and writable by the node?); the boot entries are as they were.", hint: "Check `findmnt` for update.bootDir and the node's journal; the trial stays as it was and falls back on its own." },
  UPDATE_NO_TRIAL: { status: 409, description: "The booted slot is not on trial, so there is nothing to mark good." },
  UPDATE_UPLOAD_TOO_LARGE: { status: 413, description: "The uploaded bundle is larger than `update.maxBundleBytes`.", hint: "Raise update.maxBundleBytes, or apply the bundle on the node with `sovereign update apply FILE`." },
  UPDATE_OFFER_MALFORMED: { status: 400, description: "A peer's update offer is not well formed (version, board, size, sha256 and the bundle's signed header), or its fields do not match that header; nothing was fetched." },
  UPDATE_OFFER_PEER_NOT_CORE: { status: 403, description: "An update offer came from a peer that is not at trust tier core; nothing was fetched.", hint: "Only core peers may offer updates: approve the peer as core on the Peers page if you trust it with that." },
  UPDATE_OFFER_NOT_NEWER: { status: 409, description: "The offered update is the version this node runs already; nothing was fetched." },
  UPDATE_OFFER_TOO_LARGE: { status: 413, description: "The offered bundle is larger than `update.maxBundleBytes`; nothing was fetched." },
  UPDATE_NO_SPACE: { status: 507, description: "The data partition has too little free space to download the offered bundle.", hint: "Free space under the data dir (old backups, unused models), then the next offer resumes the download." },
  UPDATE_PULL_FAILED: { status: 502, description: "The bundle could not be fetched from the offering peer (no HTTP endpoint, refused, or the connection dropped too often); what arrived is kept and the pull resumes.", hint: "Check that the peer is online and reachable over HTTP from this node." },
  UPDATE_PULL_CORRUPT: { status: 502, description: "The fetched bundle does not match the sha256 or the header the peer offered; the download was discarded." },
  UPDATE_SHARING_OFF: { status: 409, description: "This node does not share update bundles with its peers (update.offerToPeers is off)." },
  UPDATE_NOTHING_PULLED: { status: 409, description: "No update fetched from a peer is waiting to be applied.", hint: "GET /api/update shows the pull's phase; a bundle is ready once it is \"pulled\"." },
});

declare module "../../core/errors/catalog.js" {
  interface ErrorCodeMap extends CodesOf<typeof updateErrors> {}
}
