import { readFileSync } from "node:fs";
import { SovereignError } from "../../core/errors/SovereignError.js";
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

/** Reads the config file (explicit, SOVEREIGN_CONFIG, or the system one if present) and resolves all layers. */
export function loadConfig(options: LoadConfigOptions = {}): ResolvedConfig & { filePath: string | undefined } {
  const env = options.env ?? process.env;
  const explicit = options.configPath ?? env.SOVEREIGN_CONFIG;
  const path = explicit ?? SYSTEM_CONFIG_PATH;
  const file = readConfigFile(path, explicit !== undefined);
  const resolved = resolveConfig({
    file: file ?? undefined,
    filePath: path,
    env,
    flags: options.flags ?? {},
    cwd: options.cwd ?? process.cwd(),
  });
  return { ...resolved, filePath: file === undefined ? undefined : path };
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
