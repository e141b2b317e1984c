import { setting } from "../../core/config/setting.js";
import type { SettingValues } from "../../core/config/Config.js";

/** Settings of the Ollama-compatible API. */
export const ollamaSettings = [
  setting.autoInteger({
    key: "ollama.port", env: "SOVEREIGN_OLLAMA_PORT", flag: "--ollama-port", min: 0, max: 65535,
    help: "Serve Ollama's API at the root of its own listener on this port (Ollama clients expect 11434), on server.host. \"auto\" (the default) serves it only under /ollama on the main port; images set 11434.",
  }),
] as const;

declare module "../../core/config/Config.js" {
  interface Config extends SettingValues<typeof ollamaSettings> {}
}
