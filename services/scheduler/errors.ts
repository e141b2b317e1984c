import { defineErrors, type CodesOf } from "../../core/errors/catalog.js";

/** The scheduler's jobs. */
export const schedulerErrors = defineErrors("scheduler", {
  JOB_NOT_FOUND: { status: 404, description: "No scheduled job has this name.", hint: "The Jobs page (/#/jobs) lists the jobs (or `sovereign jobs list`)." },
  JOB_ALREADY_RUNNING: { status: 409, description: "The job is already running; runs never overlap.", hint: "Wait for the running run to finish." },
});

declare module "../../core/errors/catalog.js" {
  interface ErrorCodeMap extends CodesOf<typeof schedulerErrors> {}
}
