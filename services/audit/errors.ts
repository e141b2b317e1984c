import { defineErrors, type CodesOf } from "../../core/errors/catalog.js";

export const auditErrors = defineErrors("audit", {
  AUDIT_EVENT_INVALID: { status: 500, description: "A service tried to record an audit event with a malformed type; the event was not written (a bug)." },
  AUDIT_CHAIN_BROKEN: { status: 500, description: "The audit log failed verification: an event was changed, deleted, reordered or the log was truncated.", hint: "The Audit page (/#/audit) shows the first bad event (or `sovereign audit verify`); restore the database from a backup made before it." },
  AUDIT_KEY_MISSING: { status: 500, description: "The node's identity key is missing, so audit checkpoints cannot be verified.", hint: "Restore <dataDir>/keys/node.key from a backup." },
});

declare module "../../core/errors/catalog.js" {
  interface ErrorCodeMap extends CodesOf<typeof auditErrors> {}
}
