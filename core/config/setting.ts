/**
 * A setting is declared once: its key, default, env var, CLI flag, accepted
 * values and help. The table of settings drives parsing of every layer,
 * validation, the CLI flags and docs/config.md.
 */
export type SettingType =
  | { kind: "string"; pattern?: RegExp; patternHelp?: string }
  | { kind: "integer"; min?: number; max?: number }
  | { kind: "number"; min?: number; max?: number }
  | { kind: "boolean" }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "list" }
  | { kind: "path" };

export interface Setting<K extends string = string, V = unknown> {
  /** Dotted key, also the JSON path in the config file (`server.port` → {"server":{"port":…}}). */
  readonly key: K;
  readonly type: SettingType;
  /** The value when no layer sets it. `null` means "auto": the runtime decides (usually from tuning). */
  readonly default: V;
  /** Accepts `null` ("auto") as a value. */
  readonly nullable: boolean;
  readonly env: string;
  readonly flag: string;
  readonly help: string;
  /** Never printed in full by `sovereign config` or in logs. */
  readonly secret: boolean;
  /** Phantom, for type inference only. */
  readonly __value?: V;
}

interface Common<K extends string> {
  key: K;
  env: string;
  flag: string;
  help: string;
  secret?: boolean;
}

function make<K extends string, V>(c: Common<K>, type: SettingType, def: V, nullable: boolean): Setting<K, V> {
  return { key: c.key, type, default: def, nullable, env: c.env, flag: c.flag, help: c.help, secret: c.secret ?? false };
}

export const setting = {
  string<K extends string>(c: Common<K> & { default: string; pattern?: RegExp; patternHelp?: string }): Setting<K, string> {
    return make(c, { kind: "string", ...(c.pattern ? { pattern: c.pattern, patternHelp: c.patternHelp ?? c.pattern.source } : {}) }, c.default, false);
  },
  optionalString<K extends string>(c: Common<K> & { pattern?: RegExp; patternHelp?: string }): Setting<K, string | null> {
    return make(c, { kind: "string", ...(c.pattern ? { pattern: c.pattern, patternHelp: c.patternHelp ?? c.pattern.source } : {}) }, null, true);
  },
  path<K extends string>(c: Common<K> & { default: string }): Setting<K, string> {
    return make(c, { kind: "path" }, c.default, false);
  },
  optionalPath<K extends string>(c: Common<K>): Setting<K, string | null> {
    return make(c, { kind: "path" }, null, true);
  },
  integer<K extends string>(c: Common<K> & { default: number; min?: number; max?: number }): Setting<K, number> {
    return make(c, { kind: "integer", ...bounds(c) }, c.default, false);
  },
  /** An integer whose default is "auto" (null): tuning or the service picks it. */
  autoInteger<K extends string>(c: Common<K> & { min?: number; max?: number }): Setting<K, number | null> {
    return make(c, { kind: "integer", ...bounds(c) }, null, true);
  },
  number<K extends string>(c: Common<K> & { default: number; min?: number; max?: number }): Setting<K, number> {
    return make(c, { kind: "number", ...bounds(c) }, c.default, false);
  },
  boolean<K extends string>(c: Common<K> & { default: boolean }): Setting<K, boolean> {
    return make(c, { kind: "boolean" }, c.default, false);
  },
  enum<K extends string, const E extends readonly string[]>(c: Common<K> & { values: E; default: E[number] }): Setting<K, E[number]> {
    return make(c, { kind: "enum", values: c.values }, c.default, false);
  },
  list<K extends string>(c: Common<K> & { default: readonly string[] }): Setting<K, readonly string[]> {
    return make(c, { kind: "list" }, c.default, false);
  },
};

function bounds(c: { min?: number; max?: number }): { min?: number; max?: number } {
  const b: { min?: number; max?: number } = {};
  if (c.min !== undefined) b.min = c.min;
  if (c.max !== undefined) b.max = c.max;
  return b;
}

/** The accepted values of a setting, in words, for errors and docs. */
export function describeAccepted(s: Setting): string {
  const t = s.type;
  let text: string;
  switch (t.kind) {
    case "string":
      text = t.pattern ? `a string matching ${t.patternHelp ?? t.pattern.source}` : "a string";
      break;
    case "path":
      text = "a file system path";
      break;
    case "integer":
    case "number": {
      const noun = t.kind === "integer" ? "an integer" : "a number";
      if (t.min !== undefined && t.max !== undefined) text = `${noun} from ${t.min} to ${t.max}`;
      else if (t.min !== undefined) text = `${noun} of at least ${t.min}`;
      else if (t.max !== undefined) text = `${noun} of at most ${t.max}`;
      else text = noun;
      break;
    }
    case "boolean":
      text = "true or false";
      break;
    case "enum":
      text = `one of ${t.values.map((v) => `"${v}"`).join(", ")}`;
      break;
    case "list":
      text = "a list of strings (JSON array, or comma-separated in env and flags)";
      break;
  }
  return s.nullable ? `${text}, or "auto"` : text;
}
