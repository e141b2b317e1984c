import { SovereignError } from "../../../core/errors/SovereignError.js";
import type { Command } from "commander";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { printResult } from "../output.js";
import { addSettingFlags, configFromFlags } from "../settingFlags.js";
import { appendJournal } from "../../../services/update/journal.js";
import { updateServiceFromConfig } from "../../../services/update/serviceFromConfig.js";
import { updateDirOf, type UpdateStatus } from "../../../services/update/UpdateService.js";
import { lastRestoreReport } from "../../../services/db/versionSnapshot.js";
import { applyFromStick, STICK_LABEL, type StickOutcome } from "../../../services/update/usbStick.js";
import { OfferStore } from "../../../services/update/offerStore.js";
import type { Sidecar } from "../../../services/update/bundlePull.js";

const UPDATE_KEYS = ["paths.dataDir", "node.board", "update.trustedKeys", "update.slotA", "update.slotB", "update.bootDir", "update.bootSlotA", "update.bootSlotB", "update.bootMethod", "update.bootTries", "update.bootedSlotSource", "update.rebootCommand"];

/** The service as the CLI uses it: audit events go to the journal the running node imports. */
function serviceFor(opts: Record<string, unknown>): ReturnType<typeof updateServiceFromConfig> {
  const { config } = configFromFlags(opts);
  const dataDir = config["paths.dataDir"];
  return updateServiceFromConfig(config, (e) => appendJournal(updateDirOf(dataDir), { ...e, details: { ...e.details, via: e.details.via ?? "cli" } }), () => {
    const r = lastRestoreReport(dataDir);
    return r ? { restoredSnapshot: r.snapshot, keptAside: r.keptAside, notCarriedBack: r.notCarriedBack, summary: r.summary } : null;
  });
}

/** A bundle being pulled from a core peer, or pulled and waiting, as the node leaves it on disk (update/pull.json). */
export interface PullOnDisk {
  /** partial: bytes are still missing (downloading now, or interrupted and resumed at the node's next start or offer); pulled: whole and verified, waiting for an apply. */
  state: "partial" | "pulled";
  peer: string;
  version: string;
  board: string;
  size: number;
  sha256: string;
  /** Bytes written and synced (what a resume starts from). */
  bytesOnDisk: number;
  startedAt: string;
}

/**
 * The pull lives in the running node's memory; what it keeps on disk (the sidecar it rewrites after every
 * chunk, and the shared bundles under update/offers) is what the CLI can read, running node or not.
 */
function peerUpdates(dataDir: string): { pull: PullOnDisk | null; offers: Array<{ version: string; board: string; size: number; sha256: string }> } {
  const dir = updateDirOf(dataDir);
  let pull: PullOnDisk | null = null;
  try {
    const side = JSON.parse(readFileSync(join(dir, "pull.json"), "utf8")) as Sidecar;
    if (side.v === 1 && typeof side.offer === "object") {
      const ready = side.ready && existsSync(join(dir, "pulled.sovupdate"));
      pull = {
        state: ready ? "pulled" : "partial", peer: side.peer, version: side.offer.version, board: side.offer.board, size: side.offer.size, sha256: side.offer.sha256,
        bytesOnDisk: ready ? side.offer.size : side.synced, startedAt: side.startedAt,
      };
    }
  } catch {
    // no pull (or a sidecar being replaced this instant): nothing to show
  }
  // keep only matters when adding; listing never prunes.
  const offers = new OfferStore(join(dir, "offers"), Number.MAX_SAFE_INTEGER).list().map((o) => ({ version: o.version, board: o.board, size: o.size, sha256: o.sha256 }));
  return { pull, offers };
}

function pullText(p: PullOnDisk | null, offers: ReturnType<typeof peerUpdates>["offers"]): string[] {
  const lines: string[] = [];
  if (p?.state === "pulled") lines.push(`pulled from peer ${p.peer}: ${p.version} for ${p.board} (${p.size} bytes), verified; apply it on the panel's Updates page or with POST /api/update/pull/apply`);
  else if (p) lines.push(`pull from peer ${p.peer}: ${p.version} for ${p.board}, ${p.bytesOnDisk} of ${p.size} bytes on disk (${Math.floor((p.bytesOnDisk / p.size) * 100)} %); the node fetches the rest while it runs`);
  else lines.push("pull from a peer: none");
  lines.push(`shared with core peers: ${offers.length ? offers.map((o) => `${o.version} for ${o.board} (${o.size} bytes)`).join(", ") : "none"}`);
  return lines;
}

function statusText(s: UpdateStatus): string {
  const lines = [
    `board ${s.board}, running ${s.runningVersion}, boot method ${s.bootMethod}${s.configured ? "" : " (updates not configured)"}`,
    ...s.slots.map((x) => `slot ${x.slot.toUpperCase()}${x.booted ? " (booted)" : ""}: ${x.version ?? "unknown version"}, ${x.condition}${x.device ? `  [${x.device}${x.bootDevice ? `, boot ${x.bootDevice}` : ""}]` : ""}`),
    ...(s.bootedSlot ? [`root: ${s.rootVerity ? `read-only, checked by dm-verity (root hash ${s.rootVerity.rootHash.slice(0, 16)}…)` : "mounted read-write, not integrity-checked"}`] : []),
    `pending: ${s.pending ? `${s.pending.version} on slot ${s.pending.slot}${s.pending.restartRequestedAt ? ", restart requested" : ", restart to try it"}` : "none"}`,
    ...(s.trial
      ? [s.trial.unhealthy
        ? `on trial: ${s.trial.version} on slot ${s.trial.slot}, given up by the health gate at ${s.trial.unhealthy.at}: ${s.trial.unhealthy.why} (the previous slot boots next)`
        : `on trial: ${s.trial.version} on slot ${s.trial.slot} (run \`sovereign update mark-good\` once healthy)`]
      : []),
    `last result: ${s.lastResult ? `${s.lastResult.outcome} at ${s.lastResult.at}: ${s.lastResult.message}` : "none"}`,
    ...(s.rollback ? [`last rollback: ${s.rollback.failedVersion} at ${s.rollback.at}: ${s.rollback.reason}${s.rollback.data ? `\n  data: ${s.rollback.data.summary}` : ""}`] : []),
  ];
  return lines.join("\n");
}

/** `sovereign update`: apply a bundle to the inactive slot, show the status, restart into it, mark it good. */
export function registerUpdateCommand(program: Command): void {
  const update = program.command("update").description("Signed A/B system updates: apply a bundle, see the slots, restart into the update, mark it good.");

  addSettingFlags(update.command("apply <bundle>").description("Verify a bundle (signature, key, board, version, every part's sha256), then stream it into the inactive slot and arm a trial boot."), UPDATE_KEYS)
    .option("--allow-downgrade", "accept a bundle older than the running version (an admin's explicit choice)")
    .option("--json", "machine-readable result (progress goes to stderr)")
    .action(async (bundle: string, opts: Record<string, unknown>) => {
      const service = serviceFor(opts);
      let lastPct = -1;
      const r = await service.apply(resolve(bundle), {
        via: "cli", actor: "cli", allowDowngrade: Boolean(opts.allowDowngrade),
        onProgress: (phase, done, total) => {
          const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
          if (pct === lastPct && done !== total) return;
          lastPct = pct;
          process.stderr.write(`${phase.padEnd(8)} ${String(pct).padStart(3)}%  ${done}/${total} bytes\n`);
        },
        onVerified: (m) => process.stderr.write(`verified: version ${m.version} for ${m.board}, ${m.parts.length} parts, signed ${m.createdAt}\n`),
      });
      printResult(Boolean(opts.json), r, () => `version ${r.manifest.version} written to slot ${r.slot} (${r.bytesWritten} bytes, read back ${r.rootReadback.slice(0, 16)}…)\nrun \`sovereign update restart\` to try it`);
    });

  addSettingFlags(update.command("status").description("The slots, their versions, the booted slot, anything pending, the last result and the last rollback, a bundle pulled (or being pulled) from a core peer, and the bundles shared with core peers."), UPDATE_KEYS)
    .option("--json", "machine-readable output")
    .action((opts: Record<string, unknown>) => {
      const s = serviceFor(opts).status();
      const peers = peerUpdates(configFromFlags(opts).config["paths.dataDir"]);
      printResult(Boolean(opts.json), { ...s, ...peers }, () => [statusText(s), ...pullText(peers.pull, peers.offers)].join("\n"));
    });

  addSettingFlags(update.command("restart").description("Restart into the pending update (a trial boot: it falls back on its own unless marked good)."), UPDATE_KEYS)
    .option("--json", "machine-readable output")
    .action((opts: Record<string, unknown>) => {
      const r = serviceFor(opts).restart("cli");
      printResult(Boolean(opts.json), r, () => `restarting into ${r.version} on slot ${r.slot}: ${r.command.join(" ")}`);
    });

  addSettingFlags(update.command("usb").description(`Apply the newest bundle on a stick labelled ${STICK_LABEL} (what the image's udev rule runs at boot and on hotplug); a version already running, pending, on trial or failed here is skipped.`), UPDATE_KEYS)
    .option("--mount <dir>", `an already mounted stick (default: mount /dev/disk/by-label/${STICK_LABEL} read-only for the duration)`)
    .option("--allow-downgrade", "accept a bundle older than the running version")
    .option("--json", "machine-readable output")
    .action(async (opts: Record<string, unknown>) => {
      const service = serviceFor(opts);
      const device = `/dev/disk/by-label/${STICK_LABEL}`;
      let outcome: StickOutcome;
      if (opts.mount) {
        outcome = await applyFromStick(service, resolve(String(opts.mount)), { allowDowngrade: Boolean(opts.allowDowngrade) });
      } else if (!existsSync(device)) {
        outcome = { action: "none", reason: `no file system labelled ${STICK_LABEL}` };
      } else {
        const dir = mkdtempSync(join(tmpdir(), "sovupdate-"));
        execFileSync("mount", ["-o", "ro,nosuid,nodev,noexec", device, dir]);
        try {
          outcome = await applyFromStick(service, dir, { allowDowngrade: Boolean(opts.allowDowngrade) });
        } finally {
          execFileSync("umount", [dir]);
          rmdirSync(dir);
        }
      }
      printResult(Boolean(opts.json), outcome, () =>
        outcome.action === "applied" ? `version ${outcome.version} from ${outcome.bundle} written to slot ${outcome.slot}; run \`sovereign update restart\` to try it` : outcome.action === "skipped" ? `${outcome.bundle} (${outcome.version}) skipped: ${outcome.reason}` : outcome.reason,
      );
    });

  addSettingFlags(update.command("mark-good").description("Commit the booted trial slot (what the health gate runs once /healthz has passed for a while)."), UPDATE_KEYS)
    .option("--json", "machine-readable output")
    .action((opts: Record<string, unknown>) => {
      const r = serviceFor(opts).markGood("cli");
      printResult(Boolean(opts.json), r, () => `slot ${r.slot} (${r.version}) marked good`);
    });

  addSettingFlags(
    update.command("leave-trial").description("Give up the booted trial slot and reboot into the committed one (what sovereign-trial-guard runs when the node keeps failing to start). Not on trial: says so and exits 3."),
    UPDATE_KEYS,
  )
    .option("--why <text>", "the reason the rollback report gives", "given up from the command line")
    .option("--json", "machine-readable output")
    .action((opts: Record<string, unknown>) => {
      try {
        const r = serviceFor(opts).abandonTrial(String(opts.why));
        printResult(Boolean(opts.json), { left: true, ...r }, () => `left the trial of ${r.version} on slot ${r.slot}: ${r.command.join(" ")}`);
      } catch (err) {
        // The guard runs after any start failure; off a trial there is nothing to leave, which is not an error of its own.
        if (!(err instanceof SovereignError && err.code === "UPDATE_NO_TRIAL")) throw err;
        printResult(Boolean(opts.json), { left: false, reason: err.message }, () => err.message);
        process.exitCode = 3;
      }
    });
}
