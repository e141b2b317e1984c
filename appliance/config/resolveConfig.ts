import { isAbsolute, resolve } from "node:path";
import { findBoard } from "../../image/boards/registry.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { parseValue, SettingValueError, type LayerName } from "./parseValue.js";
import { editableByKey, flattenSettings } from "./panelSettings.js";
import { settings, type Config, type SettingKey } from "./settings.js";
import type { Setting } from "../../core/config/setting.js";

export interface ConfigInputs {
  /** Parsed JSON of the config file, or undefined when there is none. */
  file?: unknown;
  /** Shown in errors for file values. */
  filePath?: string;
  /** Parsed JSON of the settings the panel saved (<dataDir>/settings.json), or undefined. */
  panel?: unknown;
  /** Shown in errors for panel values. */
  panelPath?: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** Flag values keyed by setting key (the CLI maps --flags to keys). */
  flags?: Readonly<Record<string, unknown>>;
  /** Relative paths resolve against this directory. */
  cwd?: string;
}

export interface ResolvedConfig {
  config: Config;
  /** Which layer set each key. */
  sources: Readonly<Record<SettingKey, LayerName>>;
}

const byKey = new Map<string, Setting>(settings.map((s) => [s.key, s as Setting]));

/**
 * Resolves the layers defaults → board → file → panel → env → flags into one frozen,
 * validated config. Pure: the caller reads files and the environment.
 */
export function resolveConfig(inputs: ConfigInputs): ResolvedConfig {
  try {
    return resolveOrThrow(inputs);
  } catch (err) {
    if (err instanceof SettingValueError) {
      throw new SovereignError("CONFIG_INVALID", err.message, {
        details: { key: err.key, source: err.source, expected: err.expected },
      });
    }
    throw err;
  }
}

function resolveOrThrow(inputs: ConfigInputs): ResolvedConfig {
  const values = new Map<string, unknown>();
  const sources = new Map<string, LayerName>();
  const set = (key: string, value: unknown, layer: LayerName): void => {
    values.set(key, value);
    sources.set(key, layer);
  };
  for (const s of settings) set(s.key, s.default, "default");

  const fileValues = inputs.file === undefined ? new Map<string, unknown>() : flattenFile(inputs.file, inputs.filePath ?? "config file");
  const envValues = new Map<string, string>();
  for (const s of settings) {
    const v = inputs.env?.[s.env];
    if (v !== undefined && v !== "") envValues.set(s.key, v);
  }
  const flagValues = new Map<string, unknown>();
  for (const [k, v] of Object.entries(inputs.flags ?? {})) {
    if (v === undefined) continue;
    if (!byKey.has(k)) throw new SettingValueError(k, "flags", v, "a known setting");
    flagValues.set(k, v);
  }

  // The board layer depends on the board, which any higher layer may name.
  const boardRaw = flagValues.get("node.board") ?? envValues.get("node.board") ?? fileValues.get("node.board") ?? "auto";
  const boardSetting = byKey.get("node.board")!;
  const boardId = parseValue(boardSetting, boardRaw, "node.board", true) as string;
  const board = boardId === "auto" ? undefined : findBoard(boardId);
  if (board) {
    for (const [k, v] of Object.entries(board.runtime)) {
      const s = byKey.get(k);
      if (!s) throw new SettingValueError(k, `board ${board.id}`, v, "a known setting");
      set(k, parseValue(s, v, `board ${board.id}`, false), "board");
    }
  }
  const filePath = inputs.filePath ?? "config file";
  for (const [k, v] of fileValues) set(k, parseValue(byKey.get(k)!, v, `${filePath} (${k})`, false), "file");
  for (const [k, v] of panelValues(inputs)) set(k, parseValue(byKey.get(k)!, v, `${inputs.panelPath ?? "panel settings"} (${k})`, false), "panel");
  for (const [k, v] of envValues) {
    const s = byKey.get(k)!;
    set(k, parseValue(s, v, `env ${s.env}`, true), "env");
  }
  for (const [k, v] of flagValues) {
    const s = byKey.get(k)!;
    set(k, parseValue(s, v, `flag ${s.flag}`, typeof v === "string"), "flag");
  }

  const cwd = inputs.cwd ?? process.cwd();
  for (const s of settings) {
    const v = values.get(s.key);
    if (s.type.kind === "path" && typeof v === "string" && !isAbsolute(v)) values.set(s.key, resolve(cwd, v));
    if (Array.isArray(v)) values.set(s.key, Object.freeze([...(v as unknown[])]));
  }
  return {
    config: Object.freeze(Object.fromEntries(values)) as unknown as Config,
    sources: Object.freeze(Object.fromEntries(sources)) as Record<SettingKey, LayerName>,
  };
}

/** The panel's layer: only the settings the panel may edit, so a hand edit there cannot reach paths or secrets. */
function panelValues(inputs: ConfigInputs): Array<[string, unknown]> {
  if (inputs.panel === undefined) return [];
  const where = inputs.panelPath ?? "panel settings";
  if (inputs.panel === null || typeof inputs.panel !== "object" || Array.isArray(inputs.panel)) throw new SovereignError("CONFIG_INVALID", `${where} must hold a JSON object of settings.`);
  const entries = flattenSettings(inputs.panel as Record<string, unknown>);
  for (const [key] of entries) {
    if (!editableByKey.has(key)) {
      throw new SovereignError("CONFIG_INVALID", `"${key}" in ${where} is not a setting the panel may change.`, {
        hint: "Set it in the config file, an environment variable or a flag, and remove it from this file.",
        details: { key },
      });
    }
  }
  return entries;
}

/** {"server":{"port":1}} → server.port = 1. Unknown keys are errors: a typo must not pass silently. */
function flattenFile(file: unknown, filePath: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (file === null || typeof file !== "object" || Array.isArray(file)) {
    throw new SovereignError("CONFIG_INVALID", `${filePath} must hold a JSON object of settings.`);
  }
  const walk = (obj: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (byKey.has(key)) out.set(key, v);
      else if (v !== null && typeof v === "object" && !Array.isArray(v) && [...byKey.keys()].some((x) => x.startsWith(`${key}.`))) {
        walk(v as Record<string, unknown>, key);
      } else {
        throw new SovereignError("CONFIG_INVALID", `Unknown setting "${key}" in ${filePath}.`, {
          hint: "See docs/config.md for the settings and their spelling.",
          details: { key },
        });
      }
    }
  };
  walk(file as Record<string, unknown>, "");
  return out;
}
