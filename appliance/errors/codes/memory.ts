import type { ErrorEntry } from "../catalog.js";

/** Memory, conversations, the scheduler and backups. */
export const memoryErrors = {
  MEMORY_NOT_FOUND: { status: 404, description: "No memory with this id exists for this user." },
  CONVERSATION_NOT_FOUND: { status: 404, description: "No conversation with this id exists for this user." },
  MEMORY_QUERY_EMPTY: { status: 400, description: "The search query is empty.", hint: "Send a query with at least one word in `q`." },
  MEMORY_TEXT_INVALID: {
    status: 400,
    description: "The text is not valid UTF-8 (or contains unpaired surrogates) or is empty.",
    hint: "Convert the document to UTF-8 text first (for example with `iconv -t UTF-8`).",
  },
  MEMORY_DOCUMENT_TOO_LARGE: { status: 413, description: "The document is larger than memory.maxDocumentBytes.", hint: "Split the document, or raise memory.maxDocumentBytes." },
  MEMORY_IMPORT_INVALID: { status: 400, description: "A line of the JSON-lines import is not a valid record; nothing from the file was imported.", hint: "Import a file written by `sovereign memory export`." },
  JOB_NOT_FOUND: { status: 404, description: "No scheduled job has this name.", hint: "List the jobs with `sovereign jobs list`." },
  JOB_ALREADY_RUNNING: { status: 409, description: "The job is already running; runs never overlap.", hint: "Wait for the running run to finish." },
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
} as const satisfies Record<string, ErrorEntry>;
