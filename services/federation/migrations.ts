import type { Migration } from "../db/Database.js";

/** Federation's tables in the node's SQLite file (owner "federation"). */
export const federationMigrations: Migration[] = [
  {
    version: 1,
    name: "peers, high-water marks, packet log (outbox), received packets, cursors, tier events",
    up: (db) => {
      db.exec(`
        CREATE TABLE fed_peers (
          node_id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          public_key TEXT NOT NULL,
          encryption_key TEXT,
          fingerprint TEXT NOT NULL,
          tier TEXT NOT NULL DEFAULT 'unknown' CHECK (tier IN ('core','sandbox','external','unknown')),
          manifest TEXT,
          first_seen INTEGER NOT NULL,
          last_seen INTEGER NOT NULL,
          online INTEGER NOT NULL DEFAULT 0,
          source TEXT NOT NULL DEFAULT 'broker'
        );
        -- Highest sequence accepted per signer and stream ("manifest"): survives restarts, so rollbacks stay refused.
        CREATE TABLE fed_high_water (
          signer TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL,
          PRIMARY KEY (signer, stream)
        );
        CREATE TABLE fed_self (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        -- Our own packets, in order: the durable outbox every peer is synced from.
        CREATE TABLE fed_log (
          seq INTEGER PRIMARY KEY,
          id TEXT NOT NULL UNIQUE,
          type TEXT NOT NULL,
          recipient TEXT,
          packet TEXT NOT NULL,
          created_at INTEGER NOT NULL
        );
        CREATE INDEX fed_log_recipient ON fed_log (recipient, seq);
        -- Per peer: how far they confirmed our log (acked) and how far we hold theirs (recv).
        CREATE TABLE fed_cursors (
          peer_id TEXT PRIMARY KEY,
          acked INTEGER NOT NULL DEFAULT 0,
          recv INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE fed_packets (
          id TEXT PRIMARY KEY,
          author TEXT NOT NULL,
          seq INTEGER NOT NULL,
          type TEXT NOT NULL,
          scope TEXT NOT NULL CHECK (scope IN ('main','quarantine')),
          created_at INTEGER NOT NULL,
          deps TEXT NOT NULL,
          body TEXT NOT NULL,
          pending INTEGER NOT NULL DEFAULT 0,
          received_at INTEGER NOT NULL
        );
        CREATE INDEX fed_packets_author ON fed_packets (author, seq);
        CREATE INDEX fed_packets_pending ON fed_packets (pending) WHERE pending = 1;
        -- Keyed knowledge (a memory with a key): the winner under the conflict rule, per scope.
        CREATE TABLE fed_items (
          scope TEXT NOT NULL, item_key TEXT NOT NULL,
          packet_id TEXT NOT NULL, created_at INTEGER NOT NULL, author TEXT NOT NULL,
          PRIMARY KEY (scope, item_key)
        );
        CREATE TABLE fed_tier_events (
          id INTEGER PRIMARY KEY,
          node_id TEXT NOT NULL, from_tier TEXT NOT NULL, to_tier TEXT NOT NULL,
          actor TEXT NOT NULL, at INTEGER NOT NULL, audited INTEGER NOT NULL DEFAULT 0
        );
      `);
    },
  },
];
