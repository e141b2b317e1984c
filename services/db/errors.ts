import { defineErrors, type CodesOf } from "../../core/errors/catalog.js";

export const dbErrors = defineErrors("db", {
  DB_SCHEMA_TOO_NEW: { status: 500, description: "The database was written by a newer version of the node; this version refuses to touch it.", hint: "Upgrade the node, or restore a backup made by this version." },
  DB_CORRUPT: { status: 500, description: "The database failed its integrity check at start; the node refuses to run on it rather than start empty.", hint: "Restore the latest backup with `sovereign restore FILE` (backups are in <dataDir>/backups)." },
  DISK_FULL: { status: 507, description: "The disk is full; the write was refused and nothing committed was lost.", hint: "Free space in the data directory, then retry." },
  BACKUP_NOT_FOUND: { status: 404, description: "The backup file does not exist." },
  BACKUP_INVALID: {
    status: 400,
    description: "The file is not a usable backup: it is not a SQLite database, fails its integrity check, or was written by a newer version of the node.",
    hint: "Pick another backup (`sovereign backup list`).",
  },
  NODE_RUNNING: {
    status: 409,
    description: "The node is running on this database, and this command needs it stopped (a restore would pull the file from under it).",
    hint: "Stop the node (`systemctl stop sovereign`) and retry, or do it through the running node's web UI or API.",
  },
});

declare module "../../core/errors/catalog.js" {
  interface ErrorCodeMap extends CodesOf<typeof dbErrors> {}
}
