import type { Command } from "commander";
import BetterSqlite3 from "better-sqlite3";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import { printResult } from "../output.js";
import { addSettingFlags, configFromFlags } from "../settingFlags.js";
import { publicKeyOf } from "../../../core/ed25519.js";
import { nodeIdOf } from "../../../services/identity/NodeIdentity.js";
import { auditMirrorPath } from "../../../services/audit/auditPlugin.js";
import { verifyAuditLog, type AuditVerifyReport } from "../../../services/audit/verifyAuditLog.js";

/** The node's public key, derived from its key file without ever creating one. */
function nodePublicKey(dataDir: string): Uint8Array {
  const path = join(dataDir, "keys", "node.key");
  if (!existsSync(path)) throw new SovereignError("AUDIT_KEY_MISSING", `No node key at ${path}; checkpoints cannot be verified.`);
  const raw = Buffer.from(readFileSync(path, "utf8").trim(), "base64");
  if (raw.length !== 32) throw new SovereignError("AUDIT_KEY_MISSING", `${path} does not hold a 32-byte ed25519 key.`);
  return publicKeyOf(new Uint8Array(raw));
}

/** Verifies the audit chain of the database in dataDir, read-only (safe while the node runs). */
export function verifyAuditAt(dataDir: string): AuditVerifyReport & { nodeId: string; database: string } {
  const database = join(dataDir, "sovereign.db");
  if (!existsSync(database)) throw new SovereignError("DB_CORRUPT", `No database at ${database}.`, { hint: "Check --data-dir." });
  const publicKey = nodePublicKey(dataDir);
  const db = new BetterSqlite3(database, { readonly: true, fileMustExist: true });
  try {
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'").get();
    if (!hasTable) {
      return { ok: true, events: 0, lastIndex: 0, firstBadIndex: null, reason: null, checkpoints: { total: 0, valid: 0, invalid: 0, latestIndex: null }, nodeId: nodeIdOf(publicKey), database };
    }
    return { ...verifyAuditLog(db, { publicKey, mirrorPath: auditMirrorPath(dataDir) }), nodeId: nodeIdOf(publicKey), database };
  } finally {
    db.close();
  }
}

export function registerAuditCommand(program: Command): void {
  const audit = program.command("audit").description("Inspect the node's hash-chained audit log.");
  addSettingFlags(audit.command("verify").description("Check every event and signed checkpoint; exits 1 and names the first bad index if anything was changed, deleted, reordered or truncated."), ["paths.dataDir"])
    .option("--json", "machine-readable output")
    .action((opts: Record<string, unknown>) => {
      const { config } = configFromFlags(opts);
      const report = verifyAuditAt(config["paths.dataDir"]);
      printResult(Boolean(opts.json), report, () =>
        report.ok
          ? `audit log ok: ${report.events} events, ${report.checkpoints.valid} signed checkpoints (latest covers event ${report.checkpoints.latestIndex ?? "none"})`
          : `audit log BROKEN at index ${report.firstBadIndex}: ${report.reason}\n(${report.events} events stored; ${report.checkpoints.valid} valid, ${report.checkpoints.invalid} invalid checkpoints)`,
      );
      if (!report.ok) process.exitCode = 1;
    });
}
