import type { Command } from "commander";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import { inspect } from "../../../services/db/backups.js";
import { Database } from "../../../services/db/Database.js";
import { EncryptionKey } from "../../../services/federation/backupCrypto.js";
import { openMirrorBundle } from "../../../services/federation/backupMirror.js";
import { MirrorStore, mirrorDirOf } from "../../../services/federation/MirrorStore.js";
import { NodeIdentity } from "../../../services/identity/NodeIdentity.js";
import { FederationStore, type PeerRow } from "../../../services/federation/FederationStore.js";
import { isTier, type Tier } from "../../../services/federation/trust.js";
import { printResult } from "../output.js";
import { addSettingFlags, configFromFlags } from "../settingFlags.js";

const KEYS = ["paths.dataDir"];

/**
 * Works on the node's database directly (access to the data directory is the
 * proof, as for `sovereign user`); a running node notices the change within a
 * message or a minute and writes it to its audit log.
 */
function withStore<T>(opts: Record<string, unknown>, fn: (s: FederationStore) => T): T {
  const { config } = configFromFlags(opts);
  const db = new Database(join(config["paths.dataDir"], "sovereign.db"));
  try {
    return fn(new FederationStore(db));
  } finally {
    db.close();
  }
}

function actor(): string {
  try {
    return `console:${userInfo().username}`;
  } catch {
    return "console";
  }
}

function row(p: PeerRow) {
  return { nodeId: p.nodeId, name: p.name, fingerprint: p.fingerprint, tier: p.tier, online: p.online, lastSeen: new Date(p.lastSeen).toISOString(), models: p.manifest?.capabilities.models ?? [] };
}

function tierArg(value: string): Tier {
  if (!isTier(value)) throw new SovereignError("FED_TIER_INVALID", `"${value}" is not a trust tier.`, { hint: "Use core, sandbox, external or unknown." });
  return value;
}

function mirrorsOf(opts: Record<string, unknown>): MirrorStore {
  const { config } = configFromFlags(opts);
  return new MirrorStore(mirrorDirOf(config["paths.dataDir"]), config["federation.backupMirrorKeep"]);
}

/** `sovereign peer list|approve|tier|remove|mirrors|mirror-get|mirror-open`: pairing, trust tiers and backup mirrors from the console. */
export function registerPeerCommand(program: Command): void {
  const peer = program.command("peer").description("Federation peers: list them, approve one by fingerprint, change its trust tier, or forget it.");

  addSettingFlags(peer.command("list").description("List known peers with their fingerprints and tiers."), KEYS)
    .option("--json", "machine-readable output")
    .action((opts: Record<string, unknown>) => {
      const rows = withStore(opts, (s) => s.peers().map(row));
      printResult(Boolean(opts.json), rows, () =>
        rows.length === 0
          ? "(no peers seen yet: enable federation and connect to a broker)"
          : rows.map((r) => `${r.nodeId}  ${r.fingerprint}  ${r.tier.padEnd(8)} ${r.online ? "online " : "offline"}  ${r.name}`).join("\n"),
      );
    });

  addSettingFlags(
    peer.command("approve <peer> <fingerprint>").description("Approve a peer after comparing its fingerprint aloud (peer: node id, prefix of at least 4, or fingerprint)."),
    KEYS,
  )
    .option("--tier <tier>", "tier to grant: core, sandbox or external", "core")
    .option("--json", "machine-readable output")
    .action((ref: string, fingerprint: string, opts: Record<string, unknown>) => {
      const tier = tierArg(String(opts.tier));
      const r = withStore(opts, (s) => s.setTier(ref, tier, actor(), { fingerprint }));
      printResult(Boolean(opts.json), { ...row(r.peer), from: r.from, changed: r.changed }, () =>
        r.changed ? `approved ${r.peer.name} (${r.peer.nodeId}) as ${tier} (was ${r.from})` : `${r.peer.name} is already ${tier}`,
      );
    });

  addSettingFlags(peer.command("tier <peer> <tier>").description("Change a peer's trust tier (core, sandbox, external, unknown)."), KEYS)
    .option("--json", "machine-readable output")
    .action((ref: string, tierValue: string, opts: Record<string, unknown>) => {
      const tier = tierArg(tierValue);
      const r = withStore(opts, (s) => s.setTier(ref, tier, actor()));
      printResult(Boolean(opts.json), { ...row(r.peer), from: r.from, changed: r.changed }, () =>
        r.changed ? `${r.peer.name} (${r.peer.nodeId}): ${r.from} → ${tier}` : `${r.peer.name} is already ${tier}`,
      );
    });

  addSettingFlags(peer.command("remove <peer>").description("Forget a peer; if it shows up again it is unknown until approved."), KEYS)
    .option("--json", "machine-readable output")
    .action((ref: string, opts: Record<string, unknown>) => {
      const p = withStore(opts, (s) => s.removePeer(ref, actor()));
      printResult(Boolean(opts.json), { removed: p.nodeId }, () => `removed ${p.name} (${p.nodeId})`);
    });

  const MIRROR_KEYS = ["paths.dataDir", "federation.backupMirrorKeep"];
  addSettingFlags(peer.command("mirrors").description("List the backups this node holds for its peers (ciphertext, sealed to each owner and to this node)."), MIRROR_KEYS)
    .option("--json", "machine-readable output")
    .action((opts: Record<string, unknown>) => {
      const rows = mirrorsOf(opts).list();
      printResult(Boolean(opts.json), rows, () =>
        rows.length === 0
          ? "(no mirrored backups held)"
          : rows.map((m) => `${m.owner}  ${m.backupId}  ${new Date(m.createdAt).toISOString()}  ${m.size} bytes  ${m.complete ? "complete" : `${m.chunks}/${m.total} chunks`}  ${m.name}`).join("\n"),
      );
    });

  addSettingFlags(peer.command("mirror-get <owner> <backupId>").description("Write one held mirror (ciphertext) to a file, for its owner to open with `sovereign peer mirror-open`."), MIRROR_KEYS)
    .requiredOption("--out <file>", "where to write the sealed bundle (JSON)")
    .option("--json", "machine-readable output")
    .action((owner: string, backupId: string, opts: Record<string, unknown>) => {
      const bundle = mirrorsOf(opts).bundle(owner, backupId);
      writeFileSync(String(opts.out), JSON.stringify(bundle), { mode: 0o600 });
      printResult(Boolean(opts.json), { out: opts.out, owner, backupId, size: bundle.size, name: bundle.name }, () => `wrote ${opts.out} (backup ${bundle.name} of ${owner}, sealed)`);
    });

  addSettingFlags(
    peer
      .command("mirror-open <bundle>")
      .description(
        "Decrypt a mirror bundle into a SQLite backup (then `sovereign restore` it): on the node that made it, or on the peer holding it with --for-owner, for a node that lost its disk and keys.",
      ),
    KEYS,
  )
    .requiredOption("--out <file>", "where to write the decrypted backup")
    .option("--for-owner <nodeId>", "on the holding peer: the node id whose backup this is (restoring for it)")
    .option("--json", "machine-readable output")
    .action((file: string, opts: Record<string, unknown>) => {
      const { config } = configFromFlags(opts);
      const dataDir = config["paths.dataDir"];
      let bundle: unknown;
      try {
        bundle = JSON.parse(readFileSync(file, "utf8"));
      } catch (err) {
        throw new SovereignError("FED_MIRROR_INVALID", `${file} is not a mirror bundle: ${(err as Error).message}`);
      }
      // Never make keys here: only the keys that sealed the backup can open it.
      if (!existsSync(join(dataDir, "keys", "federation-x25519.key")) || !existsSync(join(dataDir, "keys", "node.key"))) {
        throw new SovereignError("FED_MIRROR_INVALID", `${dataDir} has no node keys, so it cannot open a mirror.`, { hint: "Run this on the node that made the backup or on the peer that holds it, with --data-dir pointing at its data directory." });
      }
      const forOwner = typeof opts.forOwner === "string" ? opts.forOwner : undefined;
      const data = openMirrorBundle(bundle, EncryptionKey.loadOrCreate(dataDir), NodeIdentity.loadOrCreate(dataDir).nodeId, forOwner);
      const out = String(opts.out);
      writeFileSync(out, data, { mode: 0o600 });
      const problems = inspect(out).problems;
      if (problems.length > 0) throw new SovereignError("FED_MIRROR_INVALID", `The decrypted backup is not a sound SQLite database: ${problems.slice(0, 3).join("; ")}`);
      printResult(Boolean(opts.json), { out, bytes: data.length }, () => `wrote ${out} (${data.length} bytes, integrity ok); restore it with \`sovereign restore ${out}\` while the node is stopped`);
    });
}
