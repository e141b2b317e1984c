import { SovereignError } from "../../core/errors/SovereignError.js";

const TYPES = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);
/** Keywords the grammar compiler would silently ignore, so the output could break them: refuse instead. */
const UNSUPPORTED = [
  "pattern", "patternProperties", "not", "if", "then", "else", "dependentSchemas", "dependentRequired", "contains", "minContains", "maxContains",
  "uniqueItems", "multipleOf", "propertyNames", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "allOf",
  "unevaluatedProperties", "unevaluatedItems", "contentEncoding", "contentMediaType",
];
/** The string formats the grammar compiler builds a rule for; any other would be generated as a plain string. */
const FORMATS = new Set(["date", "time", "date-time"]);

function failAt(param: string, path: string, message: string): never {
  throw new SovereignError("INVALID_JSON_SCHEMA", `${param} schema at ${path}: ${message}`, { details: { param, path } });
}

/**
 * Checks a response_format schema against what the JSON-schema grammar
 * compiler supports, before it is compiled. node-llama-cpp treats unknown
 * types and dangling $refs as "any", which would make the constraint a lie.
 */
export function checkJsonSchema(schema: unknown, param = "response_format"): void {
  const fail: (path: string, message: string) => never = (path, message) => failAt(param, path, message);
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) fail("#", "a schema must be an object.");
  const root = schema as Record<string, unknown>;
  const defs = (root.$defs ?? root.definitions ?? {}) as Record<string, unknown>;
  let nodes = 0;
  const walk = (s: unknown, path: string, depth: number): void => {
    if (++nodes > 10_000 || depth > 64) fail(path, "the schema is too large or too deep.");
    if (s === true || s === false) return;
    if (typeof s !== "object" || s === null || Array.isArray(s)) fail(path, "a schema must be an object.");
    const o = s as Record<string, unknown>;
    for (const k of UNSUPPORTED) if (k in o) fail(path, `"${k}" is not supported by the grammar compiler.`);
    if (o.type !== undefined) {
      const types = Array.isArray(o.type) ? o.type : [o.type];
      if (types.length === 0 || types.some((t) => typeof t !== "string" || !TYPES.has(t))) fail(`${path}/type`, `unknown type ${JSON.stringify(o.type)}.`);
    }
    if (o.$ref !== undefined) {
      if (typeof o.$ref !== "string") fail(`${path}/$ref`, "$ref must be a string.");
      const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(o.$ref);
      if (!m || !(m[2] as string in defs)) fail(`${path}/$ref`, `$ref "${o.$ref}" points to no definition.`);
    }
    if (o.enum !== undefined && (!Array.isArray(o.enum) || o.enum.length === 0)) fail(`${path}/enum`, "enum must be a non-empty array.");
    if (o.format !== undefined && (typeof o.format !== "string" || !FORMATS.has(o.format)))
      fail(`${path}/format`, `format ${JSON.stringify(o.format)} is not supported by the grammar compiler (supported: ${[...FORMATS].join(", ")}).`);
    if (o.oneOf !== undefined && o.anyOf !== undefined) fail(path, "oneOf and anyOf together are not supported.");
    for (const k of ["oneOf", "anyOf"]) {
      if (o[k] === undefined) continue;
      const list = o[k];
      if (!Array.isArray(list) || list.length === 0) fail(`${path}/${k}`, `${k} must be a non-empty array of schemas.`);
      list.forEach((x, i) => walk(x, `${path}/${k}/${i}`, depth + 1));
    }
    if (o.properties !== undefined) {
      if (typeof o.properties !== "object" || o.properties === null || Array.isArray(o.properties)) fail(`${path}/properties`, "properties must be an object.");
      for (const [k, v] of Object.entries(o.properties)) walk(v, `${path}/properties/${k}`, depth + 1);
    }
    if (o.required !== undefined && (!Array.isArray(o.required) || o.required.some((r) => typeof r !== "string"))) fail(`${path}/required`, "required must be an array of strings.");
    if (o.additionalProperties !== undefined && typeof o.additionalProperties !== "boolean") walk(o.additionalProperties, `${path}/additionalProperties`, depth + 1);
    if (o.items !== undefined) {
      if (Array.isArray(o.items)) o.items.forEach((x, i) => walk(x, `${path}/items/${i}`, depth + 1));
      else walk(o.items, `${path}/items`, depth + 1);
    }
    if (o.prefixItems !== undefined) {
      if (!Array.isArray(o.prefixItems)) fail(`${path}/prefixItems`, "prefixItems must be an array.");
      o.prefixItems.forEach((x, i) => walk(x, `${path}/prefixItems/${i}`, depth + 1));
    }
    for (const k of ["minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"])
      if (o[k] !== undefined && (!Number.isInteger(o[k]) || (o[k] as number) < 0)) fail(`${path}/${k}`, `${k} must be a non-negative integer.`);
  };
  walk(root, "#", 0);
  for (const [k, v] of Object.entries(defs)) walk(v, `#/$defs/${k}`, 1);
}

/**
 * The schema as node-llama-cpp's grammar compiler reads it: it knows `oneOf`
 * but not `anyOf`, which for generation mean the same thing (one of the
 * alternatives is produced), so anyOf becomes oneOf instead of "any value".
 */
export function toGrammarSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toGrammarSchema);
  if (typeof schema !== "object" || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === "enum" || k === "const") out[k] = v; // values, not schemas
    else if (MAPS.has(k) && typeof v === "object" && v !== null && !Array.isArray(v))
      out[k] = Object.fromEntries(Object.entries(v).map(([name, sub]) => [name, toGrammarSchema(sub)])); // names are not keywords
    else out[k === "anyOf" ? "oneOf" : k] = toGrammarSchema(v);
  }
  return out;
}
const MAPS = new Set(["properties", "$defs", "definitions"]);
