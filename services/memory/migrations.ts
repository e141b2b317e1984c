import type { Migration } from "../db/Database.js";

/**
 * The memory service's tables. Forward-only: a released step never changes;
 * a schema change is a new step, with its own test (test/unit/memoryMigrations.test.ts).
 */
export const memoryMigrations: readonly Migration[] = [
  {
    version: 1,
    name: "conversations and messages",
    up: (db) => {
      db.exec(`
        CREATE TABLE conversations (
          id TEXT PRIMARY KEY,
          user_id TEXT NOT NULL,
          title TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        );
        CREATE INDEX conversations_user ON conversations (user_id, updated_at DESC);
        CREATE TABLE messages (
          id INTEGER PRIMARY KEY,
          conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
          role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
          content TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          meta TEXT
        );
        CREATE INDEX messages_conversation ON messages (conversation_id, id);`);
    },
  },
  {
    version: 2,
    name: "long-term memories with FTS5 and vectors",
    up: (db) => {
      db.exec(`
        CREATE TABLE memories (
          id INTEGER PRIMARY KEY,
          user_id TEXT NOT NULL,
          text TEXT NOT NULL,
          source TEXT NOT NULL,
          kind TEXT NOT NULL DEFAULT 'note',
          tags TEXT NOT NULL DEFAULT '[]',
          importance REAL NOT NULL DEFAULT 0.5 CHECK (importance >= 0 AND importance <= 1),
          created_at INTEGER NOT NULL,
          document_id TEXT,
          chunk_index INTEGER
        );
        CREATE INDEX memories_user_time ON memories (user_id, created_at);
        CREATE INDEX memories_user_source ON memories (user_id, source, created_at);
        CREATE INDEX memories_document ON memories (document_id, chunk_index);
        CREATE TABLE memory_tags (
          tag TEXT NOT NULL,
          memory_id INTEGER NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
          PRIMARY KEY (tag, memory_id)
        ) WITHOUT ROWID;
        CREATE INDEX memory_tags_memory ON memory_tags (memory_id);
        CREATE TABLE memory_vectors (
          memory_id INTEGER PRIMARY KEY REFERENCES memories (id) ON DELETE CASCADE,
          model TEXT NOT NULL,
          dims INTEGER NOT NULL,
          vector BLOB NOT NULL
        );
        CREATE INDEX memory_vectors_model ON memory_vectors (model);
        CREATE VIRTUAL TABLE memories_fts USING fts5 (
          text, content = 'memories', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
          INSERT INTO memories_fts (rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
          INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories BEGIN
          INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
          INSERT INTO memories_fts (rowid, text) VALUES (new.id, new.text);
        END;`);
    },
  },
  {
    version: 3,
    name: "short-term, episodic memory and feedback",
    up: (db) => {
      db.exec(`
        CREATE TABLE short_term (
          session_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          key TEXT NOT NULL,
          value TEXT NOT NULL,
          expires_at INTEGER NOT NULL,
          PRIMARY KEY (user_id, session_id, key)
        );
        CREATE INDEX short_term_expiry ON short_term (expires_at);
        CREATE TABLE episodes (
          id INTEGER PRIMARY KEY,
          user_id TEXT,
          kind TEXT NOT NULL,
          at INTEGER NOT NULL,
          summary TEXT NOT NULL,
          data TEXT
        );
        CREATE INDEX episodes_time ON episodes (at);
        CREATE INDEX episodes_kind ON episodes (kind, at);
        CREATE TABLE feedback (
          id INTEGER PRIMARY KEY,
          user_id TEXT NOT NULL,
          conversation_id TEXT,
          message_id INTEGER,
          question TEXT NOT NULL,
          answer TEXT NOT NULL,
          rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
          correction TEXT,
          memory_id INTEGER REFERENCES memories (id) ON DELETE SET NULL,
          created_at INTEGER NOT NULL
        );`);
    },
  },
  {
    version: 4,
    name: "summarization progress",
    up: (db) => {
      db.exec(`
        ALTER TABLE conversations ADD COLUMN summarized_at INTEGER;
        ALTER TABLE conversations ADD COLUMN summary_memory_id INTEGER REFERENCES memories (id) ON DELETE SET NULL;
        CREATE TABLE memory_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);`);
    },
  },
  {
    version: 5,
    name: "origin of memories received from federation peers",
    up: (db) => {
      // origin: the peer node that wrote it (NULL: this node). fed_key: the knowledge item it holds, one row per item and owner.
      db.exec(`
        ALTER TABLE memories ADD COLUMN origin TEXT;
        ALTER TABLE memories ADD COLUMN fed_key TEXT;
        CREATE UNIQUE INDEX memories_fed_key ON memories (user_id, fed_key) WHERE fed_key IS NOT NULL;`);
    },
  },
  {
    version: 6,
    name: "per-conversation chat settings",
    up: (db) => {
      // JSON: the panel's model, system prompt, temperature, answer length and attached documents for this conversation.
      db.exec("ALTER TABLE conversations ADD COLUMN settings TEXT;");
    },
  },
];

export const MEMORY_SCHEMA_VERSION = memoryMigrations.length;
