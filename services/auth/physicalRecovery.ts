import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Recovery by physical presence. The node has no shell, so someone who can
 * write a file onto its boot partition (take the card or stick out, put it
 * in any computer: the partition is FAT) proves they hold the device:
 *
 *   sovereign-recovery.txt containing "regenerate-setup-code"
 *     → an unclaimed node prints a new setup code on its console;
 *   sovereign-recovery.txt containing "reset-admin-password [USERNAME]"
 *     → a claimed node gives that admin (default: the first) a new one-time
 *       password on its console and ends their sessions.
 *
 * Each file is acted on once (its hash is remembered in the data dir, and it
 * is renamed when the folder is writable); the action goes to the audit log.
 */
export const RECOVERY_FILE = "sovereign-recovery.txt";

export type RecoveryRequest = { action: "regenerate-setup-code" } | { action: "reset-admin-password"; username: string | null };

/** Pure: the request a recovery file asks for, or why it asks for nothing. */
export function parseRecoveryRequest(text: string): RecoveryRequest | { error: string } {
  const lines = text.split(/\r?\n/).map((l) => l.replace(/#.*$/, "").trim()).filter((l) => l !== "");
  if (lines.length !== 1) return { error: `expected one line naming the action, found ${lines.length}` };
  const [action, arg, ...rest] = (lines[0] ?? "").split(/\s+/);
  if (rest.length > 0) return { error: "too many words" };
  if (action === "regenerate-setup-code" && arg === undefined) return { action };
  if (action === "reset-admin-password") {
    if (arg !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(arg)) return { error: "the user name has characters a user name cannot have" };
    return { action, username: arg ?? null };
  }
  return { error: `unknown action "${action ?? ""}" (use regenerate-setup-code or reset-admin-password [USERNAME])` };
}

export interface RecoveryActions {
  isClaimed(): boolean;
  /** Makes and announces a new setup code; returns nothing secret to log. */
  regenerateSetupCode(): void;
  /** Resets an admin's password (the named one, else the first) and announces the new one on the console; returns the admin's name. */
  resetAdminPassword(username: string | null): Promise<string>;
  audit(event: { type: string; details: Record<string, unknown> }): void;
  log: { warn(msg: string): void; error(obj: object, msg: string): void };
}

export interface RecoveryOutcome {
  file: string;
  action: string;
  ok: boolean;
  detail: string;
}

export class PhysicalRecovery {
  private readonly seenPath: string;

  constructor(private readonly dirs: readonly string[], dataDir: string, private readonly actions: RecoveryActions) {
    this.seenPath = join(dataDir, "recovery-seen");
  }

  private seen(): Set<string> {
    return existsSync(this.seenPath) ? new Set(readFileSync(this.seenPath, "utf8").split("\n").filter(Boolean)) : new Set();
  }

  /** Looks for recovery files and acts on each new one; returns what it did. */
  async check(): Promise<RecoveryOutcome[]> {
    const out: RecoveryOutcome[] = [];
    for (const dir of this.dirs) {
      const file = join(dir, RECOVERY_FILE);
      let text: string;
      try {
        if (!statSync(file).isFile()) continue;
        text = readFileSync(file, "utf8").slice(0, 4096);
      } catch {
        continue;
      }
      const id = createHash("sha256").update(file).update("\0").update(text).update("\0").update(String(statSync(file).mtimeMs)).digest("hex");
      const seen = this.seen();
      if (seen.has(id)) continue;
      seen.add(id);
      writeFileSync(this.seenPath, `${[...seen].slice(-100).join("\n")}\n`, { mode: 0o600 });
      const outcome = await this.act(file, parseRecoveryRequest(text));
      out.push(outcome);
      this.actions.audit({ type: "auth.physical_recovery", details: { file, action: outcome.action, ok: outcome.ok, detail: outcome.detail } });
      try {
        renameSync(file, `${file}.done`);
      } catch {
        // A read-only boot partition: the remembered hash keeps it from running again.
      }
    }
    return out;
  }

  private async act(file: string, req: RecoveryRequest | { error: string }): Promise<RecoveryOutcome> {
    const a = this.actions;
    if ("error" in req) {
      a.log.warn(`Recovery file ${file} ignored: ${req.error}.`);
      return { file, action: "invalid", ok: false, detail: req.error };
    }
    if (req.action === "regenerate-setup-code") {
      if (a.isClaimed()) {
        a.log.warn(`Recovery file ${file}: this node is already claimed, so there is no setup code; write "reset-admin-password" instead.`);
        return { file, action: req.action, ok: false, detail: "node already claimed" };
      }
      a.regenerateSetupCode();
      a.log.warn(`Recovery file ${file}: a new setup code was made (shown above); the old one no longer works.`);
      return { file, action: req.action, ok: true, detail: "new setup code" };
    }
    if (!a.isClaimed()) {
      a.log.warn(`Recovery file ${file}: this node has no admin yet; claim it with the setup code, or write "regenerate-setup-code".`);
      return { file, action: req.action, ok: false, detail: "node not claimed" };
    }
    try {
      const who = await a.resetAdminPassword(req.username);
      return { file, action: req.action, ok: true, detail: `password of ${who} reset` };
    } catch (err) {
      a.log.error({ err }, `Recovery file ${file}: the password reset failed`);
      return { file, action: req.action, ok: false, detail: (err as Error).message };
    }
  }
}
