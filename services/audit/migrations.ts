import type { Migration } from "../db/Database.js";

/** The audit service's tables in the shared database (owner "audit"). */
export const auditMigrations: readonly Migration[] = [
  {
    version: 1,
    name: "hash-chained events and signed checkpoints",
    up: (db) => {
      db.exec(`
        CREATE TABLE audit_events (
          seq INTEGER PRIMARY KEY,
          ts TEXT NOT NULL,
          type TEXT NOT NULL,
          actor TEXT,
          subject TEXT,
          details TEXT NOT NULL,
          prev_hash TEXT NOT NULL,
          hash TEXT NOT NULL
        );
        CREATE INDEX audit_events_type ON audit_events (type, seq);
        CREATE TABLE audit_checkpoints (
          id INTEGER PRIMARY KEY,
          seq INTEGER NOT NULL,
          hash TEXT NOT NULL,
          ts TEXT NOT NULL,
          node_id TEXT NOT NULL,
          signature TEXT NOT NULL,
          reason TEXT NOT NULL
        );`);
    },
  },
];
