import { SovereignError } from "../errors/SovereignError.js";

/**
 * The deepest nesting a client may send in JSON the node parses, stores or
 * walks. Real documents (chat requests, JSON schemas, memory exports) stay far
 * below it; thousands of levels make JSON.stringify, ajv and canonical JSON
 * overflow the stack, which used to surface as a 500.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * The nesting depth of JSON text (`1` → 0, `{}` → 1, `[[1]]` → 2), found by a
 * linear scan that skips strings: no parse and no recursion, so it is safe on
 * any input. Stops counting once past `limit`. Malformed text gets a number
 * too; the parser refuses it afterwards.
 */
export function jsonTextDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** The nesting depth of a parsed value, walked without recursion; stops once past `limit`. */
export function valueDepth(value: unknown, limit = Number.POSITIVE_INFINITY): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    const here = d + 1;
    if (here > max) {
      max = here;
      if (max > limit) return max;
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === "object" && child !== null) stack.push([child, here]);
  }
  return max;
}

/** Throws JSON_TOO_DEEP (400) when JSON text nests deeper than `limit`; `what` names it in the message. */
export function checkJsonTextDepth(text: string, what = "The JSON body", limit = MAX_JSON_DEPTH): void {
  if (jsonTextDepth(text, limit) > limit) throw tooDeep(what, limit);
}

/** Throws JSON_TOO_DEEP (400) when a parsed value nests deeper than `limit`. */
export function checkValueDepth(value: unknown, what = "The value", limit = MAX_JSON_DEPTH): void {
  if (valueDepth(value, limit) > limit) throw tooDeep(what, limit);
}

function tooDeep(what: string, limit: number): SovereignError {
  return new SovereignError("JSON_TOO_DEEP", `${what} nests objects and arrays more than ${limit} levels deep.`, { details: { maxDepth: limit } });
}
