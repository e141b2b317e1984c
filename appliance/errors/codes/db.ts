import type { ErrorEntry } from "../catalog.js";

export const dbErrors = {
  DB_SCHEMA_TOO_NEW: { status: 500, description: "The database was written by a newer version of the node; this version refuses to touch it.", hint: "Upgrade the node, or restore a backup made by this version." },
  DB_CORRUPT: { status: 500, description: "The database failed its integrity check at start; the node refuses to run on it rather than start empty.", hint: "Restore the latest backup with `sovereign restore FILE` (backups are in <dataDir>/backups)." },
  DISK_FULL: { status: 507, description: "The disk is full; the write was refused and nothing committed was lost.", hint: "Free space in the data directory, then retry." },
} as const satisfies Record<string, ErrorEntry>;
