// Audit log: durable appends per second (one SQLite transaction each, synchronous=FULL, as the node runs),
// and the time to verify a 1,000,000-event chain. `npm run bench audit` (SOVEREIGN_AUDIT_BENCH_EVENTS to change 1M).
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "../services/db/Database.js";
import { NodeIdentity } from "../services/identity/NodeIdentity.js";
import { AuditLog } from "../services/audit/AuditLog.js";
import { auditMigrations } from "../services/audit/migrations.js";
import { verifyAuditLog } from "../services/audit/verifyAuditLog.js";
import { writeResult } from "./lib/writeResult.js";

const total = Number(process.env.SOVEREIGN_AUDIT_BENCH_EVENTS ?? 1_000_000);
const durable = 2_000;
const dir = mkdtempSync(join(tmpdir(), "sovereign-audit-bench-"));
try {
  const identity = NodeIdentity.loadOrCreate(dir);
  const db = Database.open(join(dir, "sovereign.db"), {});
  db.migrate("audit", auditMigrations);
  const log = new AuditLog(db.sqlite, { signer: identity, checkpointEveryEvents: 0 });
  const event = (i: number) => ({ type: "auth.login", actor: `user:${i % 7}`, subject: `session:${i}`, details: { ip: "192.168.1.20", ua: "bench", n: i } });

  // 1. Durable appends, each its own committed transaction.
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < durable; i++) log.record(event(i));
  const durableSec = Number(process.hrtime.bigint() - t0) / 1e9;

  // 2. The same appends grouped 10,000 to a transaction (how a bulk import would do it), up to `total`.
  const batch = db.sqlite.transaction((from: number, n: number) => {
    for (let i = from; i < from + n; i++) log.record(event(i));
  });
  t0 = process.hrtime.bigint();
  for (let done = durable; done < total; done += 10_000) batch(done, Math.min(10_000, total - done));
  const batchSec = Number(process.hrtime.bigint() - t0) / 1e9;
  const cp = log.checkpoint("bench", true);

  // 3. Verification of the whole chain against the signed checkpoint.
  t0 = process.hrtime.bigint();
  const report = verifyAuditLog(db.sqlite, { publicKey: identity.publicKey });
  const verifySec = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!report.ok || report.events !== total) throw new Error(`verification failed: ${JSON.stringify(report)}`);
  const dbBytes = statSync(join(dir, "sovereign.db")).size;
  db.close();

  writeResult("audit", {
    command: "npm run bench audit",
    durableAppends: { events: durable, seconds: +durableSec.toFixed(3), eventsPerSecond: Math.round(durable / durableSec), note: "one transaction and fsync per event (synchronous=FULL, WAL)" },
    batchedAppends: { events: total - durable, seconds: +batchSec.toFixed(3), eventsPerSecond: Math.round((total - durable) / batchSec), note: "10,000 events per transaction" },
    verify: { events: report.events, seconds: +verifySec.toFixed(3), eventsPerSecond: Math.round(report.events / verifySec), checkpointAt: cp?.seq },
    databaseBytes: dbBytes,
    bytesPerEvent: Math.round(dbBytes / total),
  });
  console.log(`audit: ${Math.round(durable / durableSec)} durable appends/s, ${Math.round((total - durable) / batchSec)} batched/s, verify ${total} in ${verifySec.toFixed(2)} s`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
