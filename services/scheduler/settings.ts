import { setting } from "../../core/config/setting.js";
import type { SettingValues } from "../../core/config/Config.js";

/** Settings of the job scheduler. */
export const schedulerSettings = [
  setting.boolean({
    key: "scheduler.enabled", env: "SOVEREIGN_SCHEDULER_ENABLED", flag: "--scheduler-enabled", default: true,
    help: "Run jobs on their schedules. When false, jobs still run on demand (Run now on the Jobs page, the API, `sovereign jobs run`).",
  }),
  setting.integer({
    key: "scheduler.idleMinutes", env: "SOVEREIGN_IDLE_MINUTES", flag: "--idle-minutes", default: 30, min: 0, max: 1440,
    help: "How long nobody must have used the node before an \"only when idle\" job (summarization) may start.",
  }),
  setting.integer({
    key: "scheduler.historyDays", env: "SOVEREIGN_JOB_HISTORY_DAYS", flag: "--job-history-days", default: 90, min: 1, max: 3650,
    help: "How long job run records are kept.",
  }),
] as const;

declare module "../../core/config/Config.js" {
  interface Config extends SettingValues<typeof schedulerSettings> {}
}
