import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { ownLikeDataDir } from "./UpdateState.js";
import type { UpdateAuditEvent } from "./UpdateService.js";

/**
 * Audit events of updates applied from the CLI, while the node (which owns
 * the audit log's hash chain) may be running: appended here, one JSON line
 * each, and moved into the audit log by the update service at its next start
 * or status read.
 */
export function journalPathOf(updateDir: string): string {
  return join(updateDir, "journal.jsonl");
}

export function appendJournal(updateDir: string, e: UpdateAuditEvent): void {
  mkdirSync(updateDir, { recursive: true, mode: 0o700 });
  appendFileSync(journalPathOf(updateDir), `${JSON.stringify({ ...e, details: { ...e.details, at: new Date().toISOString() } })}\n`, { mode: 0o600 });
  ownLikeDataDir(updateDir, dirname(updateDir));
  ownLikeDataDir(journalPathOf(updateDir), dirname(updateDir));
}

/** Hands each journalled event to `record` and removes the journal; returns how many. */
export function drainJournal(updateDir: string, record: (e: UpdateAuditEvent) => void): number {
  const path = journalPathOf(updateDir);
  if (!existsSync(path)) return 0;
  const draining = `${path}.${process.pid}.draining`;
  renameSync(path, draining);
  let n = 0;
  for (const line of readFileSync(draining, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      record(JSON.parse(line) as UpdateAuditEvent);
      n++;
    } catch {
      // A torn last line from a killed CLI: nothing to record.
    }
  }
  rmSync(draining, { force: true });
  return n;
}
