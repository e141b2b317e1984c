import type { Command } from "commander";
import { settings } from "../config/settings.js";
import { describeAccepted, type Setting } from "../../core/config/setting.js";
import { loadConfig, type LoadedConfig } from "../config/loadConfig.js";

/** Commander's camel-cased attribute name for a flag ("--data-dir" → "dataDir"). */
function attrName(flag: string): string {
  return flag.replace(/^--/, "").replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Adds one flag per setting (all of them, or the named ones), straight from
 * the settings table, plus --config. Values stay strings; the config layer parses them.
 */
export function addSettingFlags(cmd: Command, keys?: readonly string[]): Command {
  cmd.option("--config <file>", "config file (default /etc/sovereign/config.json if present; env SOVEREIGN_CONFIG)");
  for (const s of settings as readonly Setting[]) {
    if (keys && !keys.includes(s.key)) continue;
    const arg = s.type.kind === "boolean" ? "[bool]" : "<value>";
    cmd.option(`${s.flag} ${arg}`, `${s.help} (${s.key}; ${describeAccepted(s)}; env ${s.env})`);
  }
  return cmd;
}

/** Loads the config with this command's flags as the top layer. */
export function configFromFlags(opts: Record<string, unknown>): LoadedConfig {
  const flags: Record<string, unknown> = {};
  for (const s of settings as readonly Setting[]) {
    const v = opts[attrName(s.flag)];
    if (v === undefined) continue;
    flags[s.key] = v === true ? "true" : v;
  }
  return loadConfig({ configPath: opts.config as string | undefined, flags });
}
