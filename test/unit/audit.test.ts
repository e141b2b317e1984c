import { mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Database } from "../../services/db/Database.js";
import { NodeIdentity } from "../../services/identity/NodeIdentity.js";
import { AuditLog } from "../../services/audit/AuditLog.js";
import { auditMigrations } from "../../services/audit/migrations.js";
import { verifyAuditLog } from "../../services/audit/verifyAuditLog.js";
import { redactDetails } from "../../services/audit/redactDetails.js";
import { GENESIS_HASH } from "../../services/audit/auditHash.js";

let dir: string;
let db: Database;
let identity: NodeIdentity;
let log: AuditLog;
let mirrorPath: string;

function open(): void {
  db = new Database(join(dir, "sovereign.db"));
  db.migrate("audit", auditMigrations);
  log = new AuditLog(db.sqlite, { signer: identity, mirrorPath, checkpointEveryEvents: 0 });
}
const verify = (extra: { mirror?: boolean } = {}) =>
  verifyAuditLog(db.sqlite, { publicKey: identity.publicKey, ...(extra.mirror === false ? {} : { mirrorPath }) });
const fill = (n: number) => {
  for (let i = 0; i < n; i++) log.record({ type: "test.event", actor: "user:1", subject: `thing:${i}`, details: { i } });
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sovereign-audit-"));
  mirrorPath = join(dir, "audit", "checkpoint.json");
  identity = NodeIdentity.loadOrCreate(dir);
  open();
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("audit log", () => {
  it("chains each event to the previous one", () => {
    const a = log.record({ type: "auth.login", actor: "user:1" });
    const b = log.record({ type: "auth.logout", actor: "user:1" });
    expect(a.seq).toBe(1);
    expect(a.prevHash).toBe(GENESIS_HASH);
    expect(b.seq).toBe(2);
    expect(b.prevHash).toBe(a.hash);
    expect(verify()).toMatchObject({ ok: true, events: 2, lastIndex: 2, firstBadIndex: null });
  });

  it("refuses malformed event types and stores nothing", () => {
    expect(() => log.record({ type: "Bad Type" })).toThrow(/dotted lowercase/);
    expect(log.headOf().seq).toBe(0);
  });

  it("redacts secrets in details", () => {
    const e = log.record({
      type: "auth.key_created",
      details: { keyId: "k1", apiKey: "sk-live-123", nested: { password: "hunter2", setupCode: "1234", ok: 1 }, token: "t" },
    });
    const text = JSON.stringify(log.list()[0]);
    expect(text).not.toContain("sk-live-123");
    expect(text).not.toContain("hunter2");
    expect(e.details).toMatchObject({ keyId: "k1", apiKey: "[redacted]", nested: { password: "[redacted]", setupCode: "[redacted]", ok: 1 } });
    expect(redactDetails({ big: 10n, f: () => 1, d: new Date(0) })).toEqual({ big: "10", d: "1970-01-01T00:00:00.000Z" });
  });

  it("reports the first changed event", () => {
    fill(20);
    db.sqlite.prepare("UPDATE audit_events SET details = ? WHERE seq = 7").run(JSON.stringify({ i: 999 }));
    expect(verify()).toMatchObject({ ok: false, firstBadIndex: 7 });
  });

  it("reports a changed event whose own hash was recomputed as a broken link at the next one", () => {
    fill(10);
    // Rewriting an event and its hash still breaks the next event's link.
    db.sqlite.prepare("UPDATE audit_events SET hash = ? WHERE seq = 4").run("f".repeat(64));
    expect(verify()).toMatchObject({ ok: false, firstBadIndex: 4 });
  });

  it("reports a deleted event", () => {
    fill(10);
    db.sqlite.prepare("DELETE FROM audit_events WHERE seq = 5").run();
    expect(verify()).toMatchObject({ ok: false, firstBadIndex: 5 });
  });

  it("reports reordered events", () => {
    fill(10);
    // Swap the contents of events 3 and 6 while keeping their indexes.
    const rows = db.sqlite.prepare("SELECT * FROM audit_events WHERE seq IN (3, 6) ORDER BY seq").all() as Record<string, unknown>[];
    const swap = db.sqlite.prepare("UPDATE audit_events SET ts=@ts, type=@type, actor=@actor, subject=@subject, details=@details, prev_hash=@prev_hash, hash=@hash WHERE seq=@target");
    db.sqlite.transaction(() => {
      swap.run({ ...rows[1], target: 3 });
      swap.run({ ...rows[0], target: 6 });
    })();
    expect(verify()).toMatchObject({ ok: false, firstBadIndex: 3 });
  });

  it("reports truncation against the latest signed checkpoint, even when the checkpoint rows are deleted too", () => {
    fill(10);
    log.checkpoint("test");
    db.sqlite.prepare("DELETE FROM audit_events WHERE seq > 6").run();
    expect(verify()).toMatchObject({ ok: false, firstBadIndex: 7, lastIndex: 6 });
    db.sqlite.prepare("DELETE FROM audit_checkpoints").run();
    const r = verify();
    expect(r).toMatchObject({ ok: false, firstBadIndex: 7 });
    expect(r.reason).toMatch(/truncated/);
  });

  it("reports a rewritten tail that disagrees with a signed checkpoint", () => {
    fill(5);
    log.checkpoint("test");
    fill(5);
    // Rebuild the chain from event 3 on with self-consistent hashes: only the checkpoint can tell.
    db.sqlite.prepare("DELETE FROM audit_events WHERE seq >= 3").run();
    const forged = new AuditLog(db.sqlite, { signer: NodeIdentity.loadOrCreate(join(dir, "attacker")) });
    for (let i = 0; i < 8; i++) forged.record({ type: "test.forged" });
    const r = verify();
    expect(r.ok).toBe(false);
    expect(r.firstBadIndex).toBe(1);
    expect(r.reason).toMatch(/checkpoint at 5/);
  });

  it("ignores checkpoints signed by another key", () => {
    fill(3);
    const attacker = NodeIdentity.loadOrCreate(join(dir, "attacker"));
    const forged = new AuditLog(db.sqlite, { signer: attacker, mirrorPath: join(dir, "other.json") });
    forged.checkpoint("forged", true);
    const r = verify({ mirror: false });
    expect(r).toMatchObject({ ok: true, checkpoints: { total: 1, valid: 0, invalid: 1 } });
  });

  it("writes a checkpoint every N events and skips empty ones", () => {
    const counting = new AuditLog(db.sqlite, { signer: identity, checkpointEveryEvents: 4 });
    for (let i = 0; i < 9; i++) counting.record({ type: "test.event" });
    expect(counting.checkpoints().map((c) => c.seq)).toEqual([8, 4]);
    counting.checkpoint("periodic");
    expect(counting.checkpoint("periodic")).toBeUndefined();
    expect(counting.checkpoints()[0]?.seq).toBe(9);
  });

  it("survives reopening and keeps the chain", () => {
    fill(3);
    log.checkpoint("shutdown");
    db.close();
    open();
    fill(2);
    expect(verify()).toMatchObject({ ok: true, events: 5 });
    unlinkSync(mirrorPath);
    expect(verify()).toMatchObject({ ok: true, checkpoints: { valid: 1 } });
  });

  it("lists newest first with a cursor and a type filter", () => {
    fill(5);
    log.record({ type: "auth.login" });
    expect(log.list({ limit: 2 }).map((e) => e.seq)).toEqual([6, 5]);
    expect(log.list({ before: 3 }).map((e) => e.seq)).toEqual([2, 1]);
    expect(log.list({ type: "auth.login" }).map((e) => e.seq)).toEqual([6]);
  });
});
