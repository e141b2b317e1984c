import { setting } from "../../core/config/setting.js";
import type { SettingValues } from "../../core/config/Config.js";

/** Settings of the audit log. */
export const auditSettings = [
  setting.integer({
    key: "audit.checkpointIntervalMinutes", env: "SOVEREIGN_AUDIT_CHECKPOINT_MINUTES", flag: "--audit-checkpoint-minutes", default: 60, min: 1, max: 10_080,
    help: "Minutes between signed audit checkpoints (one is also written at shutdown, and only when events were added).",
  }),
  setting.integer({
    key: "audit.checkpointEveryEvents", env: "SOVEREIGN_AUDIT_CHECKPOINT_EVENTS", flag: "--audit-checkpoint-events", default: 1000, min: 0,
    help: "Also write a signed checkpoint after this many new events (0 turns this off).",
  }),
] as const;

declare module "../../core/config/Config.js" {
  interface Config extends SettingValues<typeof auditSettings> {}
}
