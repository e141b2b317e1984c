import { describeAccepted, type Setting } from "../../core/config/setting.js";

/** Where a value came from, for error messages and `sovereign config`. */
export type LayerName = "default" | "board" | "file" | "panel" | "env" | "flag";

export class SettingValueError extends Error {
  constructor(
    readonly key: string,
    readonly source: string,
    readonly got: unknown,
    readonly expected: string,
  ) {
    super(`Invalid setting ${key} from ${source}: got ${JSON.stringify(got)}; expected ${expected}.`);
    this.name = "SettingValueError";
  }
}

/**
 * Turns one raw value into the setting's type. Strings from env and flags
 * are coerced (`coerce`); JSON values from files and boards must already
 * have the right type ("auto" is accepted in both for auto settings).
 */
export function parseValue(s: Setting, raw: unknown, source: string, coerce: boolean): unknown {
  const fail = (): never => {
    throw new SettingValueError(s.key, source, raw, describeAccepted(s));
  };
  if (s.nullable && (raw === null || (typeof raw === "string" && raw.trim().toLowerCase() === "auto"))) return null;
  const fromString = coerce && typeof raw === "string";
  const t = s.type;
  switch (t.kind) {
    case "string":
    case "path": {
      if (typeof raw !== "string" || raw.length === 0) return fail();
      if (t.kind === "string" && t.pattern && !t.pattern.test(raw)) return fail();
      return raw;
    }
    case "integer":
    case "number": {
      let n: number;
      if (typeof raw === "number") n = raw;
      else if (fromString && raw.trim() !== "" && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw.trim())) n = Number(raw);
      else return fail();
      if (!Number.isFinite(n)) return fail();
      if (t.kind === "integer" && !Number.isInteger(n)) return fail();
      if (t.min !== undefined && n < t.min) return fail();
      if (t.max !== undefined && n > t.max) return fail();
      return n;
    }
    case "boolean": {
      if (typeof raw === "boolean") return raw;
      if (fromString) {
        const v = raw.trim().toLowerCase();
        if (["true", "1", "yes", "on"].includes(v)) return true;
        if (["false", "0", "no", "off"].includes(v)) return false;
      }
      return fail();
    }
    case "enum": {
      if (typeof raw !== "string" || !t.values.includes(raw)) return fail();
      return raw;
    }
    case "list": {
      if (Array.isArray(raw)) {
        if (!raw.every((x) => typeof x === "string")) return fail();
        return Object.freeze([...raw]);
      }
      if (fromString) {
        return Object.freeze(raw.split(",").map((x) => x.trim()).filter((x) => x.length > 0));
      }
      return fail();
    }
  }
}
