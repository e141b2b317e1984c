import type { Command } from "commander";
import { userInfo } from "node:os";
import { join } from "node:path";
import { SovereignError } from "../../errors/SovereignError.js";
import { Database } from "../../../services/db/Database.js";
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

/** `sovereign peer list|approve|tier|remove`: pairing and trust tiers from the console. */
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
}
