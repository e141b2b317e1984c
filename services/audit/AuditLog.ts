import type BetterSqlite3 from "better-sqlite3";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { checkpointMessage, GENESIS_HASH, hashEvent } from "./auditHash.js";
import { detailsText } from "./redactDetails.js";
import { Statements } from "../db/Statements.js";

/** What a caller records. `details` must not hold secrets; secret-looking fields are redacted anyway. */
export interface AuditEventInput {
  /** Dotted lowercase kind, e.g. "auth.login", "auth.login_failed", "peer.tier_changed". */
  type: string;
  /** Who did it: a user id, "key:<id>", "peer:<nodeId>" or "system". */
  actor?: string | null;
  /** What it was done to: a user, key, model or peer id. */
  subject?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditEvent {
  seq: number;
  ts: string;
  type: string;
  actor: string | null;
  subject: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditCheckpoint {
  /** Index of the last event covered (0 for an empty log). */
  seq: number;
  /** Hash of that event (GENESIS_HASH for an empty log). */
  hash: string;
  ts: string;
  nodeId: string;
  /** ed25519 signature, base64, over checkpointMessage(). */
  signature: string;
  reason: string;
}

export interface AuditSigner {
  nodeId: string;
  sign(message: Uint8Array): Uint8Array;
}

export interface AuditListQuery {
  /** Only events with seq below this (newest first paging). */
  before?: number;
  limit?: number;
  type?: string;
  /** Only events by this actor (a user id, "key:<id>", …). */
  actor?: string;
}

const TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/;

interface EventRow {
  seq: number;
  ts: string;
  type: string;
  actor: string | null;
  subject: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

/**
 * The append-only event log over the shared SQLite file. Appends are
 * synchronous, one transaction each, so an event is durable when record() returns.
 */
export class AuditLog {
  private readonly head: BetterSqlite3.Statement<[], { seq: number; hash: string }>;
  private readonly insert: BetterSqlite3.Statement;
  private readonly append: (e: AuditEventInput) => AuditEvent;
  /** One statement per filter combination: [type?, actor?] → "SELECT … WHERE …". */
  private readonly listing = new Map<string, BetterSqlite3.Statement>();
  /** The statements of the panel's reads and of checkpoints, prepared once. */
  private readonly sql: Statements;
  private lastCheckpointSeq: number;

  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly options: {
      signer: AuditSigner;
      /** Where the latest checkpoint is mirrored outside the database. */
      mirrorPath?: string;
      /** A checkpoint is also written after this many events (0: only on the timer and at shutdown). */
      checkpointEveryEvents?: number;
      now?: () => Date;
    },
  ) {
    this.sql = new Statements(db);
    this.head = db.prepare("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1");
    this.insert = db.prepare(
      "INSERT INTO audit_events (seq, ts, type, actor, subject, details, prev_hash, hash) VALUES (@seq, @ts, @type, @actor, @subject, @details, @prevHash, @hash)",
    );
    this.append = db.transaction((input: AuditEventInput): AuditEvent => {
      const head = this.head.get();
      const stored = {
        seq: (head?.seq ?? 0) + 1,
        ts: (this.options.now?.() ?? new Date()).toISOString(),
        type: input.type,
        actor: input.actor ?? null,
        subject: input.subject ?? null,
        details: detailsText(input.details),
        prevHash: head?.hash ?? GENESIS_HASH,
      };
      const hash = hashEvent(stored);
      this.insert.run({ ...stored, hash });
      return { ...stored, details: JSON.parse(stored.details) as Record<string, unknown>, hash };
    }).immediate;
    for (const type of [false, true]) {
      for (const actor of [false, true]) {
        const where = [type ? "type = @type" : "", actor ? "actor = @actor" : "", "seq < @before"].filter(Boolean).join(" AND ");
        this.listing.set(`${type}/${actor}`, db.prepare(`SELECT * FROM audit_events WHERE ${where} ORDER BY seq DESC LIMIT @limit`));
      }
    }
    const last = db.prepare("SELECT MAX(seq) AS seq FROM audit_checkpoints").get() as { seq: number | null };
    this.lastCheckpointSeq = last.seq ?? 0;
  }

  /** Appends one event and returns it with its index and hash. Throws on a bad type; never swallows a failed write. */
  record(input: AuditEventInput): AuditEvent {
    if (typeof input.type !== "string" || input.type.length > 64 || !TYPE_PATTERN.test(input.type)) {
      throw new SovereignError("AUDIT_EVENT_INVALID", `Audit event type ${JSON.stringify(input.type)} is not a dotted lowercase name.`);
    }
    const event = this.append(input);
    const every = this.options.checkpointEveryEvents ?? 0;
    if (every > 0 && event.seq - this.lastCheckpointSeq >= every) this.checkpoint("count");
    return event;
  }

  /** Index and hash of the newest event (0 and the genesis hash when empty). */
  headOf(): { seq: number; hash: string } {
    return this.head.get() ?? { seq: 0, hash: GENESIS_HASH };
  }

  /**
   * Signs the current head and stores the checkpoint (and its mirror file).
   * Skipped when nothing was appended since the last one, unless `force`.
   */
  checkpoint(reason: string, force = false): AuditCheckpoint | undefined {
    const head = this.headOf();
    if (!force && head.seq === this.lastCheckpointSeq && head.seq > 0) return undefined;
    const ts = (this.options.now?.() ?? new Date()).toISOString();
    const nodeId = this.options.signer.nodeId;
    const signature = Buffer.from(this.options.signer.sign(checkpointMessage({ nodeId, seq: head.seq, hash: head.hash, ts }))).toString("base64");
    const cp: AuditCheckpoint = { seq: head.seq, hash: head.hash, ts, nodeId, signature, reason };
    this.sql
      .get("INSERT INTO audit_checkpoints (seq, hash, ts, node_id, signature, reason) VALUES (@seq, @hash, @ts, @nodeId, @signature, @reason)")
      .run(cp);
    this.lastCheckpointSeq = head.seq;
    if (this.options.mirrorPath) writeMirror(this.options.mirrorPath, cp);
    return cp;
  }

  /** Newest first, at most 500 per page. */
  list(query: AuditListQuery = {}): AuditEvent[] {
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 500);
    const params = { before: query.before ?? Number.MAX_SAFE_INTEGER, limit };
    const statement = this.listing.get(`${Boolean(query.type)}/${Boolean(query.actor)}`)!;
    const rows = statement.all({ ...params, ...(query.type ? { type: query.type } : {}), ...(query.actor ? { actor: query.actor } : {}) }) as EventRow[];
    return rows.map(toEvent);
  }

  /** Every event type in the log, for the panel's filter. */
  types(): string[] {
    return (this.sql.get("SELECT DISTINCT type FROM audit_events ORDER BY type").all() as Array<{ type: string }>).map((r) => r.type);
  }

  checkpoints(limit = 100): AuditCheckpoint[] {
    return (
      this.sql
        .get("SELECT seq, hash, ts, node_id AS nodeId, signature, reason FROM audit_checkpoints ORDER BY id DESC LIMIT ?")
        .all(Math.min(Math.max(limit, 1), 1000)) as AuditCheckpoint[]
    );
  }
}

function toEvent(r: EventRow): AuditEvent {
  let details: Record<string, unknown>;
  try {
    details = JSON.parse(r.details) as Record<string, unknown>;
  } catch {
    details = { unparsable: r.details };
  }
  return { seq: r.seq, ts: r.ts, type: r.type, actor: r.actor, subject: r.subject, details, prevHash: r.prev_hash, hash: r.hash };
}

function writeMirror(path: string, cp: AuditCheckpoint): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(cp)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}
