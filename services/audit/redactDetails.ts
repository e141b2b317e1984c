/** Field names whose values are secrets: they are replaced before an event is stored. */
const SECRET_KEY = /(pass(word|phrase)?|secret|token|api[-_]?key|private[-_]?key|secret[-_]?key|setup[-_]?code|authorization|cookie|credential|otp)$/i;

/** Longest JSON text of one event's details; anything longer is cut with a note. */
export const MAX_DETAILS_CHARS = 8192;

/**
 * A copy of `details` with secret-looking fields redacted, nesting bounded and
 * non-JSON values (functions, bigints, buffers) turned into plain text, so a
 * careless caller cannot leak a password into a record that can never be deleted.
 */
export function redactDetails(value: unknown, depth = 0): unknown {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") return value.toString();
  if (value === undefined || typeof value === "function" || typeof value === "symbol") return undefined;
  if (depth >= 6) return "[too deep]";
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.length} bytes]`;
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => redactDetails(v, depth + 1) ?? null);
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (SECRET_KEY.test(k)) out[k] = "[redacted]";
      else {
        const r = redactDetails(v, depth + 1);
        if (r !== undefined) out[k] = r;
      }
    }
    return out;
  }
  return String(value);
}

/** The stored JSON text of an event's details. */
export function detailsText(details: Record<string, unknown> | undefined): string {
  const text = JSON.stringify(redactDetails(details ?? {}) ?? {});
  return text.length <= MAX_DETAILS_CHARS ? text : JSON.stringify({ truncated: true, size: text.length, head: text.slice(0, 1024) });
}
