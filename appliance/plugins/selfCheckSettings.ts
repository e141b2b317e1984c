import { setting } from "../../core/config/setting.js";
import type { SettingValues } from "../../core/config/Config.js";

/** Settings of the watchdog's self-checks beyond the event loop (see appliance/plugins/selfCheck.ts). */
export const selfCheckSettings = [
  setting.integer({
    key: "watchdog.inferenceStallSeconds", env: "SOVEREIGN_INFERENCE_STALL_SECONDS", flag: "--inference-stall-seconds", default: 1800, min: 10,
    help: "Generation slots busy with no request finishing for this long means the engine is wedged, so the watchdog stops being fed.",
  }),
] as const;

declare module "../../core/config/Config.js" {
  interface Config extends SettingValues<typeof selfCheckSettings> {}
}
