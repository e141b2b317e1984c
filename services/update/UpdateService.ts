import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { applyBootOps, readBootFiles } from "./applyBootOps.js";
import { BOOT_FAILURE_NOTE, bootedSlotOf, bootSelectorFor, otherSlot, parseBootFailureNote, slotVerityOf, type BootFailureNote, type BootSelector, type Slot, type SlotVerity } from "../../core/bootSelection.js";
import type { BundleManifest } from "./bundleFormat.js";
import type { OnProgress } from "./bundleReader.js";
import { writeBundleToSlot } from "./slotWriter.js";
import { readState, writeState, type DataRollbackNote, type UpdateResult, type UpdateStateFile } from "./UpdateState.js";
import "./errors.js";

export interface UpdateAuditEvent {
  type: string;
  actor: string | null;
  subject: string | null;
  details: Record<string, unknown>;
}

export interface UpdateServiceOptions {
  dataDir: string;
  board: string;
  runningVersion: string;
  trustedKeys: readonly string[];
  slots: Record<Slot, string | null>;
  /** Raspberry Pi A/B: each slot's own FAT boot partition, which receives a bundle's boot.vfat whole. Absent: boot parts are files under bootDir. */
  bootSlots?: Record<Slot, string>;
  bootDir: string | null;
  bootMethod: "systemd-boot" | "tryboot" | "none";
  bootTries: number;
  /** The kernel command line (sovereign.slot=a|b names the booted slot). */
  cmdline: () => string;
  /** This boot's id (/proc/sys/kernel/random/boot_id): tells a restart from a service restart. */
  bootId: () => string;
  /** The command that restarts into the armed trial; defaults to the boot method's. */
  rebootCommand?: readonly string[];
  /** Where each attempt and result goes (the audit log in the node; a journal the node imports when run from the CLI). */
  audit: (e: UpdateAuditEvent) => void;
  /** What the database did when this version started (a restored snapshot after a rollback). */
  dataNote?: () => DataRollbackNote | null;
}

export interface SlotStatus {
  slot: Slot;
  device: string | null;
  /** The slot's own boot partition (Raspberry Pi A/B), or null when its boot files live under the boot dir. */
  bootDevice: string | null;
  version: string | null;
  condition: string;
  booted: boolean;
}

export interface UpdateStatus {
  configured: boolean;
  board: string;
  runningVersion: string;
  bootMethod: string;
  bootedSlot: Slot | null;
  inactiveSlot: Slot | null;
  /** The root hash the booted slot was opened with (dm-verity, read-only); null when its root is mounted unchecked. */
  rootVerity: SlotVerity | null;
  slots: SlotStatus[];
  pending: UpdateStateFile["pending"];
  trial: UpdateStateFile["trial"];
  lastResult: UpdateResult | null;
  rollback: UpdateStateFile["rollback"];
  busy: boolean;
  trustedKeys: number;
  counters: UpdateStateFile["counters"];
}

export interface ApplyResult {
  slot: Slot;
  manifest: BundleManifest;
  bytesWritten: number;
  rootReadback: string;
}

/** The update service's files under the data dir. */
export function updateDirOf(dataDir: string): string {
  return join(dataDir, "update");
}

/**
 * The one update service: every way of applying (CLI, upload, later USB and
 * peers) goes through apply(), and status() is the one status. State lives
 * in update/state.json, written atomically; it is re-read on every call, so
 * the CLI and the running node see the same thing.
 */
export class UpdateService {
  readonly statePath: string;
  private readonly lockPath: string;
  private readonly selector: BootSelector | null;

  constructor(private readonly o: UpdateServiceOptions) {
    this.statePath = join(updateDirOf(o.dataDir), "state.json");
    this.lockPath = join(updateDirOf(o.dataDir), "apply.lock");
    this.selector = bootSelectorFor(o.bootMethod);
  }

  get configured(): boolean {
    return Boolean(this.o.slots.a && this.o.slots.b) && this.o.board !== "auto";
  }

  private bootedVerity(): SlotVerity | null {
    try {
      return slotVerityOf(this.o.cmdline());
    } catch {
      return null;
    }
  }

  bootedSlot(): Slot | null {
    try {
      return bootedSlotOf(this.o.cmdline());
    } catch {
      return null;
    }
  }

  private mutate<T>(fn: (s: UpdateStateFile) => T): T {
    const s = readState(this.statePath);
    const r = fn(s);
    writeState(this.statePath, s);
    return r;
  }

  private result(s: UpdateStateFile, r: Omit<UpdateResult, "at">): void {
    s.lastResult = { at: new Date().toISOString(), ...r };
    s.counters.results[r.outcome] = (s.counters.results[r.outcome] ?? 0) + 1;
  }

  /**
   * Brings the state in line with the slot this boot came up on: a pending
   * update whose slot booted is now on trial; a trial (or a restart into one)
   * that came back on the other slot is a rollback. Called at start and by
   * every command.
   */
  reconcile(): void {
    const booted = this.bootedSlot();
    if (!booted) return;
    const bootId = this.safeBootId();
    const now = new Date().toISOString();
    const givenUp = this.bootFailureNote();
    this.mutate((s) => {
      let dirty = false;
      if (givenUp && givenUp.slot !== booted) {
        const version = s.slots[givenUp.slot].version ?? "an unknown version";
        const who = givenUp.when === "running" ? "while it ran: the node gave it up and restarted into" : "at boot: the initramfs gave it up and started";
        this.rollback(s, booted, givenUp.slot, version, `slot ${givenUp.slot} (${version}) ${givenUp.reason} ${who} slot ${booted}. Its disk holds changed blocks; the next update rewrites it.`);
        this.o.audit({ type: "update.slot_given_up", actor: "system", subject: version, details: { slot: givenUp.slot, booted, reason: givenUp.reason, when: givenUp.when } });
        s.slots[booted] = { version: this.o.runningVersion, condition: "good", since: now };
        return true;
      }
      const mine = s.slots[booted];
      // A slot recorded bad, written or incomplete that boots anyway (the boot loader's last resort once the other
      // slot ran out of tries) runs this version now: it is what serves, so it is not shown as bad.
      const stale = mine.condition !== "good" && mine.condition !== "trial";
      if (mine.version !== this.o.runningVersion || stale) {
        s.slots[booted] = { version: this.o.runningVersion, condition: mine.condition === "trial" ? "trial" : "good", since: now };
        dirty = true;
      }
      const p = s.pending;
      if (p && p.slot === booted) {
        s.trial = { slot: booted, version: p.version, since: now };
        s.slots[booted] = { version: this.o.runningVersion, condition: "trial", since: now };
        s.pending = null;
        this.o.audit({ type: "update.trial_started", actor: "system", subject: p.version, details: { slot: booted } });
        return true;
      }
      const restarted = p?.restartRequestedAt && p.restartBootId !== bootId;
      if (p && restarted) {
        this.rollback(s, booted, p.slot, p.version, `the node restarted into slot ${p.slot} (${p.version}) but came back on slot ${booted}: ${this.failedTrialWhy(p.slot)}`);
        return true;
      }
      if (s.trial && s.trial.slot !== booted) {
        this.rollback(s, booted, s.trial.slot, s.trial.version, `slot ${s.trial.slot} (${s.trial.version}) was on trial and never marked good; the node came back on slot ${booted}: ${this.failedTrialWhy(s.trial.slot)}`);
        return true;
      }
      return dirty;
    });
  }

  /** The initramfs's note that it gave up the committed slot (abLayout.ts giveUpShell); read once, then removed. */
  private bootFailureNote(): BootFailureNote | null {
    if (!this.o.bootDir) return null;
    const path = join(this.o.bootDir, BOOT_FAILURE_NOTE);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      return null;
    }
    // Removed before it is recorded: a note that cannot be removed would otherwise be counted at every start.
    try {
      rmSync(path);
    } catch {
      return null;
    }
    return parseBootFailureNote(text);
  }

  private safeBootId(): string {
    try {
      return this.o.bootId().trim();
    } catch {
      return "";
    }
  }

  private failedTrialWhy(slot: Slot): string {
    const s = readState(this.statePath);
    if (s.trial?.slot === slot && s.trial.unhealthy) return `the health gate gave it up: ${s.trial.unhealthy.why}`;
    if (!this.selector || !this.o.bootDir) return "it never became healthy";
    const view = this.selector.inspect(readBootFiles(this.o.bootDir, this.selector));
    if (this.selector.method === "systemd-boot" && view.trial === slot && view.triesLeft === 0) return "systemd-boot used up its tries (a panic, a watchdog reset or no health in time)";
    if (this.selector.method === "tryboot") return "the firmware's one tryboot ended without a commit (a panic, a watchdog reset or no health in time)";
    return "it was not marked good (a panic, a watchdog reset or no health in time)";
  }

  private rollback(s: UpdateStateFile, booted: Slot, failedSlot: Slot, failedVersion: string, reason: string): void {
    const data = this.o.dataNote?.() ?? null;
    s.slots[failedSlot] = { version: failedVersion, condition: "bad", since: new Date().toISOString() };
    s.pending = null;
    s.trial = null;
    s.rollback = { at: new Date().toISOString(), failedVersion, failedSlot, reason, data };
    s.counters.rollbacks += 1;
    this.result(s, { outcome: "rolled-back", version: failedVersion, code: null, message: reason + (data ? ` ${data.summary}` : "") });
    this.o.audit({ type: "update.rolled_back", actor: "system", subject: failedVersion, details: { failedSlot, booted, reason, ...(data ? { data } : {}) } });
  }

  status(): UpdateStatus {
    this.reconcile();
    const s = readState(this.statePath);
    const booted = this.bootedSlot();
    return {
      configured: this.configured,
      board: this.o.board,
      runningVersion: this.o.runningVersion,
      bootMethod: this.o.bootMethod,
      bootedSlot: booted,
      inactiveSlot: booted ? otherSlot(booted) : null,
      rootVerity: this.bootedVerity(),
      slots: (["a", "b"] as const).map((slot) => ({ slot, device: this.o.slots[slot], bootDevice: this.o.bootSlots?.[slot] ?? null, version: s.slots[slot].version, condition: s.slots[slot].condition, booted: slot === booted })),
      pending: s.pending,
      trial: s.trial,
      lastResult: s.lastResult,
      rollback: s.rollback,
      busy: this.lockHolder() !== null,
      trustedKeys: this.o.trustedKeys.length,
      counters: s.counters,
    };
  }

  private lockHolder(): number | null {
    if (!existsSync(this.lockPath)) return null;
    const pid = Number(readFileSync(this.lockPath, "utf8").trim());
    try {
      if (pid > 0) process.kill(pid, 0);
      return pid;
    } catch {
      return null;
    }
  }

  private takeLock(): void {
    if (this.lockHolder() !== null) throw new SovereignError("UPDATE_BUSY", `Process ${this.lockHolder()} is applying an update.`);
    rmSync(this.lockPath, { force: true });
    mkdirSync(updateDirOf(this.o.dataDir), { recursive: true, mode: 0o700 });
    try {
      const fd = openSync(this.lockPath, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
    } catch {
      throw new SovereignError("UPDATE_BUSY", "Another process is applying an update.");
    }
  }

  /**
   * Verifies the bundle, then streams it into the inactive slot and arms the
   * trial boot. Every refusal happens before the slot is opened for writing.
   */
  async apply(path: string, opts: { allowDowngrade?: boolean; actor?: string | null; via: string; onProgress?: OnProgress; onVerified?: (m: BundleManifest) => void }): Promise<ApplyResult> {
    if (!this.configured) {
      throw new SovereignError("UPDATE_NOT_CONFIGURED", this.o.board === "auto" ? "This node's board is not set (node.board is \"auto\"), so no bundle can be checked against it." : undefined);
    }
    this.reconcile();
    const booted = this.bootedSlot();
    if (!booted) throw new SovereignError("UPDATE_NOT_CONFIGURED", "The booted slot is unknown: the kernel command line carries no sovereign.slot=a|b.");
    const slot = otherSlot(booted);
    const device = this.o.slots[slot] as string;
    const actor = opts.actor ?? null;
    this.takeLock();
    try {
      this.mutate((s) => {
        s.counters.attempts += 1;
      });
      this.o.audit({ type: "update.attempt", actor, subject: null, details: { via: opts.via, slot, allowDowngrade: Boolean(opts.allowDowngrade) } });
      let started = false;
      try {
        const r = await writeBundleToSlot(
          path,
          { trustedKeys: this.o.trustedKeys, board: this.o.board, runningVersion: this.o.runningVersion, allowDowngrade: Boolean(opts.allowDowngrade) },
          { root: device, bootFiles: this.bootFilesDir(slot), bootImage: this.o.bootSlots?.[slot] ?? null },
          {
            ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
            onVerified: (m) => {
              started = true;
              opts.onVerified?.(m);
              this.mutate((s) => {
                s.slots[slot] = { version: null, condition: "incomplete", since: new Date().toISOString() };
                if (s.pending?.slot === slot) s.pending = null;
              });
            },
          },
        );
        if (this.selector && this.o.bootDir) {
          applyBootOps(this.o.bootDir, this.selector.arm(readBootFiles(this.o.bootDir, this.selector), { slot, version: r.manifest.version, tries: this.o.bootTries, verity: r.manifest.verity ?? null }));
        }
        const message = `version ${r.manifest.version} written to slot ${slot} (${r.bytesWritten} bytes); restart to try it`;
        this.mutate((s) => {
          s.slots[slot] = { version: r.manifest.version, condition: "written", since: new Date().toISOString() };
          s.pending = { slot, version: r.manifest.version, writtenAt: new Date().toISOString(), restartRequestedAt: null };
          this.result(s, { outcome: "applied", version: r.manifest.version, code: null, message });
        });
        this.o.audit({ type: "update.applied", actor, subject: r.manifest.version, details: { via: opts.via, slot, bytes: r.bytesWritten, board: r.manifest.board } });
        return { slot, manifest: r.manifest, bytesWritten: r.bytesWritten, rootReadback: r.rootReadback };
      } catch (err) {
        const code = err instanceof SovereignError ? err.code : "INTERNAL";
        const outcome = started ? "failed" : "refused";
        this.mutate((s) => this.result(s, { outcome, version: null, code, message: (err as Error).message }));
        this.o.audit({ type: started ? "update.failed" : "update.refused", actor, subject: null, details: { via: opts.via, slot, code, message: (err as Error).message } });
        throw err;
      }
    } finally {
      rmSync(this.lockPath, { force: true });
    }
  }

  /** Where a slot's kernel, initrd and firmware files go. */
  bootFilesDir(slot: Slot): string | null {
    if (!this.o.bootDir) return null;
    return this.o.bootMethod === "tryboot" ? join(this.o.bootDir, `slot-${slot}`) : join(this.o.bootDir, "sovereign", slot);
  }

  /** Records the request and runs the reboot command that starts the trial. */
  restart(actor: string | null, run: (argv: readonly string[]) => void = spawnDetached): { slot: Slot; version: string; command: readonly string[] } {
    this.reconcile();
    const bootId = this.safeBootId();
    const p = this.mutate((s) => {
      if (!s.pending) throw new SovereignError("UPDATE_NOTHING_PENDING");
      s.pending.restartRequestedAt = new Date().toISOString();
      s.pending.restartBootId = bootId;
      return s.pending;
    });
    const command = this.o.rebootCommand && this.o.rebootCommand.length > 0 ? this.o.rebootCommand : (this.selector?.rebootCommand() ?? ["systemctl", "reboot"]);
    this.o.audit({ type: "update.restart", actor, subject: p.version, details: { slot: p.slot, command: command.join(" ") } });
    run(command);
    return { slot: p.slot, version: p.version, command };
  }

  /** The trial of the booted slot, or UPDATE_NO_TRIAL. */
  private bootedTrial(): NonNullable<UpdateStateFile["trial"]> {
    this.reconcile();
    const booted = this.bootedSlot();
    const trial = readState(this.statePath).trial;
    if (!trial || trial.slot !== booted) throw new SovereignError("UPDATE_NO_TRIAL", `The booted slot ${booted ?? "(unknown)"} is not on trial.`);
    return trial;
  }

  /** The health gate's verdict: the booted trial slot becomes the one that boots (bless / tryboot commit). */
  markGood(actor: string | null): { slot: Slot; version: string } {
    const trial = this.bootedTrial();
    if (this.selector && this.o.bootDir) {
      applyBootOps(this.o.bootDir, this.selector.commit(readBootFiles(this.o.bootDir, this.selector), trial.slot));
      // Read back: a boot partition that is not mounted (or not visible in the node's sandbox) would take the
      // commit silently, and the firmware would still count the trial down and fall back. Say so instead.
      const view = this.selector.inspect(readBootFiles(this.o.bootDir, this.selector));
      if (view.trial === trial.slot || view.committed !== trial.slot)
        throw new SovereignError("UPDATE_BOOT_PARTITION", `After the commit, ${this.o.bootDir} boots ${view.committed ?? "no slot"}${view.trial ? ` with slot ${view.trial} on trial` : ""}, not slot ${trial.slot}.`);
    }
    this.mutate((s) => {
      s.slots[trial.slot] = { version: trial.version, condition: "good", since: new Date().toISOString() };
      s.trial = null;
      this.result(s, { outcome: "committed", version: trial.version, code: null, message: `version ${trial.version} on slot ${trial.slot} marked good` });
    });
    this.o.audit({ type: "update.committed", actor, subject: trial.version, details: { slot: trial.slot } });
    return { slot: trial.slot, version: trial.version };
  }

  /**
   * The health gate's other verdict: the booted trial never became healthy in
   * time. The trial entry is spent (systemd-boot) and the node reboots plainly,
   * so the committed slot comes back; the reconcile there records the rollback
   * with this reason.
   */
  abandonTrial(why: string, run: (argv: readonly string[]) => void = spawnDetached): { slot: Slot; version: string; command: readonly string[] } {
    const trial = this.bootedTrial();
    if (this.selector && this.o.bootDir) applyBootOps(this.o.bootDir, this.selector.abandon(readBootFiles(this.o.bootDir, this.selector), trial.slot));
    this.mutate((s) => {
      if (s.trial) s.trial.unhealthy = { at: new Date().toISOString(), why };
    });
    this.o.audit({ type: "update.trial_unhealthy", actor: "system", subject: trial.version, details: { slot: trial.slot, why } });
    // A configured command (tests, unusual boards) overrides; the default is the plain reboot, never tryboot's.
    const command = this.o.rebootCommand && this.o.rebootCommand.length > 0 ? this.o.rebootCommand : FALLBACK_REBOOT;
    run(command);
    return { slot: trial.slot, version: trial.version, command };
  }
}

/** The command that leaves a given-up trial: a plain reboot, which starts the committed slot. */
const FALLBACK_REBOOT = ["systemctl", "reboot"] as const;

function spawnDetached(argv: readonly string[]): void {
  const [cmd, ...args] = argv;
  if (!cmd) return;
  const child = spawn(cmd, args, { detached: true, stdio: "ignore" });
  child.on("error", () => undefined);
  child.unref();
}
