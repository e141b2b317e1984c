import { readFileSync } from "node:fs";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { panelSettingsPath, readPanelSettings } from "./panelSettings.js";
import { resolveConfig, type ResolvedConfig } from "./resolveConfig.js";

/** Where an installed node keeps its settings. */
export const SYSTEM_CONFIG_PATH = "/etc/sovereign/config.json";

export interface LoadConfigOptions {
  /** An explicit --config path; it must exist. */
  configPath?: string | undefined;
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LoadedConfig extends ResolvedConfig {
  /** The config file read, if any. */
  filePath: string | undefined;
  /** Where the panel keeps the settings it changed (it may not exist yet). */
  panelPath: string;
}

/** Reads the config file (explicit, SOVEREIGN_CONFIG, or the system one if present) and the panel's settings, and resolves all layers. */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const explicit = options.configPath ?? env.SOVEREIGN_CONFIG;
  const path = explicit ?? SYSTEM_CONFIG_PATH;
  const file = readConfigFile(path, explicit !== undefined);
  const inputs = { file: file ?? undefined, filePath: path, env, flags: options.flags ?? {}, cwd: options.cwd ?? process.cwd() };
  // The panel's settings live in the data directory, which the other layers name; the panel cannot move it.
  const first = resolveConfig(inputs);
  const panelPath = panelSettingsPath(first.config["paths.dataDir"]);
  const panel = readPanelSettings(panelPath);
  const resolved = panel === undefined ? first : resolveConfig({ ...inputs, panel, panelPath });
  return { ...resolved, filePath: file === undefined ? undefined : path, panelPath };
}

function readConfigFile(path: string, required: boolean): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !required) return undefined;
    throw new SovereignError("CONFIG_FILE_UNREADABLE", `Cannot read config file ${path}: ${code ?? String(err)}.`, {
      hint: code === "ENOENT" ? "Check the path given with --config or SOVEREIGN_CONFIG." : "Check the file's permissions.",
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SovereignError("CONFIG_FILE_UNREADABLE", `Config file ${path} is not valid JSON: ${(err as Error).message}.`);
  }
}
