import type { Migration } from "../db/Database.js";

/** The auth service's tables, migrated under the owner "auth". Times are epoch milliseconds. */
export const authMigrations: readonly Migration[] = [
  {
    version: 1,
    name: "users, sessions, api keys, login throttle, token usage",
    up: (db) =>
      db.exec(`
        CREATE TABLE auth_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE auth_users (
          id TEXT PRIMARY KEY,
          username TEXT NOT NULL UNIQUE COLLATE NOCASE,
          password_hash TEXT NOT NULL,
          role TEXT NOT NULL CHECK (role IN ('admin', 'user', 'guest')),
          disabled INTEGER NOT NULL DEFAULT 0,
          tokens_per_hour INTEGER,
          tokens_per_day INTEGER,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          password_changed_at INTEGER NOT NULL
        );
        CREATE TABLE auth_sessions (
          id TEXT PRIMARY KEY,
          secret_hash TEXT NOT NULL UNIQUE,
          user_id TEXT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
          csrf_token TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          last_seen_at INTEGER NOT NULL,
          expires_at INTEGER NOT NULL,
          revoked_at INTEGER,
          ip TEXT,
          user_agent TEXT
        );
        CREATE INDEX auth_sessions_user ON auth_sessions(user_id);
        CREATE TABLE auth_api_keys (
          id TEXT PRIMARY KEY,
          user_id TEXT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
          name TEXT NOT NULL,
          prefix TEXT NOT NULL,
          key_hash TEXT NOT NULL UNIQUE,
          scopes TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          expires_at INTEGER,
          last_used_at INTEGER,
          revoked_at INTEGER,
          tokens_per_hour INTEGER,
          tokens_per_day INTEGER
        );
        CREATE INDEX auth_api_keys_user ON auth_api_keys(user_id);
        CREATE TABLE auth_login_throttle (
          key TEXT PRIMARY KEY,
          failures INTEGER NOT NULL,
          locked_until INTEGER NOT NULL DEFAULT 0,
          last_failure_at INTEGER NOT NULL
        );
        CREATE TABLE auth_token_usage (
          subject TEXT NOT NULL,
          hour INTEGER NOT NULL,
          tokens INTEGER NOT NULL,
          PRIMARY KEY (subject, hour)
        );
      `),
  },
];
