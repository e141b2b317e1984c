import { defineErrors, type CodesOf } from "../../core/errors/catalog.js";

/** Errors of changing settings from the panel (appliance/plugins/settingsEdit.ts). */
export const settingsErrors = defineErrors("settings", {
  SETTING_NOT_EDITABLE: { status: 404, description: "The setting does not exist, or is not one the panel may change.", hint: "Paths, secrets and limits are set in the config file, an environment variable or a flag (`sovereign config show` lists where each comes from)." },
  SETTING_INVALID: { status: 400, description: "The value is not one the setting accepts; nothing was saved." },
  RESTART_UNAVAILABLE: { status: 409, description: "This node cannot restart itself: it is not running under systemd.", hint: "Stop the node (Ctrl+C) and start it again with `npm start` or `sovereign serve`." },
});

declare module "../../core/errors/catalog.js" {
  interface ErrorCodeMap extends CodesOf<typeof settingsErrors> {}
}
