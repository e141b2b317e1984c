/**
 * Canonical JSON, the one byte encoding that is hashed and signed.
 *
 * Rules (a subset of RFC 8785, enough for our own messages):
 * - object keys sorted by UTF-16 code units (JavaScript's default sort), no whitespace;
 * - strings escaped exactly as JSON.stringify escapes them;
 * - numbers must be finite; integers must be safe integers (no -0 either);
 * - `undefined` members are omitted, like JSON.stringify; `undefined` in arrays,
 *   functions, symbols, bigints, NaN and Infinity are refused, never silently changed.
 * Parsing and re-encoding a canonical document gives the same bytes, which is
 * what lets a receiver check a signature over bytes it did not keep.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("canonical JSON: non-finite number");
      if (Object.is(value, -0)) return "0";
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) throw new TypeError("canonical JSON: integer outside the safe range");
      return JSON.stringify(value);
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        return `[${value.map((v) => {
          if (v === undefined) throw new TypeError("canonical JSON: undefined in an array");
          return canonicalJson(v);
        }).join(",")}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new TypeError("canonical JSON: only plain objects");
      const obj = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const key of Object.keys(obj).sort()) {
        const v = obj[key];
        if (v === undefined) continue;
        parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      throw new TypeError(`canonical JSON: cannot encode a ${typeof value}`);
  }
}

export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), "utf8");
}
