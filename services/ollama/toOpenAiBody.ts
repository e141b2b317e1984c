import { SovereignError } from "../../core/errors/SovereignError.js";
import { objectAt } from "../inference/routes/parseOpenAi.js";

/**
 * Ollama's request bodies, translated into the OpenAI-shaped body that
 * services/inference's parsers already validate: one set of rules for
 * sampling, formats and tools, whichever API a client speaks.
 */

/** Ollama `options` that are sampling parameters, and the OpenAI-shaped field each becomes. */
const SAMPLING_OPTIONS: Record<string, string> = {
  temperature: "temperature",
  top_p: "top_p",
  top_k: "top_k",
  min_p: "min_p",
  seed: "seed",
  num_predict: "max_tokens",
  stop: "stop",
  repeat_penalty: "repeat_penalty",
  presence_penalty: "presence_penalty",
  frequency_penalty: "frequency_penalty",
  repeat_last_n: "repeat_last_n",
};

/**
 * Options that choose how a model is loaded and run (context, threads, GPU,
 * memory mapping). On this node tune() decides them for the hardware, so they
 * are accepted and reported back as ignored (header x-sovereign-ignored-options),
 * never applied per request.
 */
const LOAD_OPTIONS = new Set(["num_ctx", "num_batch", "num_gpu", "main_gpu", "num_thread", "use_mmap", "use_mlock", "numa", "low_vram", "num_keep"]);

function bad(param: string, message: string): never {
  throw new SovereignError("BAD_REQUEST", message, { details: { param } });
}


export interface Translated {
  body: Record<string, unknown>;
  /** Load-time options the client sent, which this node does not apply per request. */
  ignoredOptions: string[];
}

function translateOptions(b: Record<string, unknown>, out: Record<string, unknown>): string[] {
  const ignored: string[] = [];
  if (b.options === undefined || b.options === null) return ignored;
  const o = objectAt(b.options, "options");
  for (const [key, value] of Object.entries(o)) {
    if (value === undefined || value === null) continue;
    const field = SAMPLING_OPTIONS[key];
    if (field) {
      // num_predict -1 (infinite) and -2 (fill the context) both mean "as much as the context allows".
      if (key === "num_predict" && typeof value === "number" && value < 0) continue;
      out[field] = value;
    } else if (LOAD_OPTIONS.has(key)) ignored.push(key);
    else bad(`options.${key}`, `options.${key} is not supported by this node (supported: ${Object.keys(SAMPLING_OPTIONS).join(", ")}).`);
  }
  return ignored;
}

function translateFormat(b: Record<string, unknown>, out: Record<string, unknown>): void {
  const f = b.format;
  if (f === undefined || f === null || f === "") return;
  if (f === "json") out.response_format = { type: "json_object" };
  else if (typeof f === "object" && !Array.isArray(f)) out.response_format = { type: "json_schema", json_schema: { name: "format", schema: f } };
  else bad("format", 'format must be "json" or a JSON schema object.');
}

function refuseImages(v: unknown, param: string): void {
  if (Array.isArray(v) && v.length > 0) bad(param, "Images are not supported: this node serves text models only.");
}

function common(b: Record<string, unknown>): Translated {
  if (typeof b.model !== "string" || b.model.length === 0) bad("model", "model is required (a name from /api/tags).");
  if (b.stream !== undefined && typeof b.stream !== "boolean") bad("stream", "stream must be true or false.");
  const body: Record<string, unknown> = { model: b.model, stream: b.stream !== false };
  const ignoredOptions = translateOptions(b, body);
  translateFormat(b, body);
  return { body, ignoredOptions };
}

/** Ollama tool calls carry arguments as an object; OpenAI's as a JSON string with an id. */
function toOpenAiToolCalls(v: unknown, i: number): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) bad(`messages[${i}].tool_calls`, "tool_calls must be an array.");
  return v.map((c: unknown, j: number) => {
    const fn = objectAt(objectAt(c, `messages[${i}].tool_calls[${j}]`).function, `messages[${i}].tool_calls[${j}].function`);
    const args = fn.arguments;
    return { id: `call_${i}_${j}`, type: "function", function: { name: fn.name, arguments: typeof args === "string" ? args : JSON.stringify(args ?? {}) } };
  });
}

/** POST /api/chat → an OpenAI chat completion body. */
export function ollamaChatToOpenAi(raw: unknown): Translated {
  const b = objectAt(raw, "body");
  if (!Array.isArray(b.messages)) bad("messages", "messages must be an array.");
  const t = common(b);
  // Ollama's tool results name the function, not a call id: pair each with the latest call of that name.
  const lastCallId = new Map<string, string>();
  t.body.messages = b.messages.map((m: unknown, i: number) => {
    const msg = objectAt(m, `messages[${i}]`);
    refuseImages(msg.images, `messages[${i}].images`);
    const out: Record<string, unknown> = { role: msg.role, content: msg.content ?? "" };
    const calls = toOpenAiToolCalls(msg.tool_calls, i);
    if (calls) {
      out.tool_calls = calls;
      for (const c of calls as Array<{ id: string; function: { name: unknown } }>) if (typeof c.function.name === "string") lastCallId.set(c.function.name, c.id);
    }
    if (msg.role === "tool") {
      const name = typeof msg.tool_name === "string" ? msg.tool_name : typeof msg.name === "string" ? msg.name : undefined;
      out.tool_call_id = (name && lastCallId.get(name)) ?? `call_tool_${i}`;
      if (name) out.name = name;
    }
    return out;
  });
  if (b.tools !== undefined && b.tools !== null) t.body.tools = b.tools;
  // Extension: Ollama has no tool_choice (its model decides); OpenAI's values are accepted here to force a call.
  if (b.tool_choice !== undefined && b.tool_choice !== null) t.body.tool_choice = b.tool_choice;
  return t;
}

/** POST /api/generate → an OpenAI completion body (raw) or a chat body (with the model's template). */
export function ollamaGenerateToOpenAi(raw: unknown): Translated & { chat: boolean } {
  const b = objectAt(raw, "body");
  if (typeof b.prompt !== "string") bad("prompt", "prompt must be a string.");
  refuseImages(b.images, "images");
  if (b.context !== undefined && b.context !== null) bad("context", "context (token ids of an earlier answer) is not supported; send the conversation to /api/chat instead.");
  if (b.template !== undefined && b.template !== null && b.template !== "") bad("template", "A per-request template is not supported; the model's own chat template is used.");
  const t = common(b);
  if (b.raw === true) {
    if (b.system !== undefined && b.system !== null && b.system !== "") bad("system", "system cannot be combined with raw: true.");
    if (typeof b.suffix === "string" && b.suffix !== "") t.body.suffix = b.suffix;
    t.body.prompt = b.prompt;
    return { ...t, chat: false };
  }
  if (typeof b.suffix === "string" && b.suffix !== "") bad("suffix", "suffix needs raw: true on this node (fill-in-the-middle works on the raw prompt).");
  const messages: Array<{ role: string; content: string }> = [];
  if (typeof b.system === "string" && b.system !== "") messages.push({ role: "system", content: b.system });
  messages.push({ role: "user", content: b.prompt });
  t.body.messages = messages;
  return { ...t, chat: true };
}

/**
 * Ollama's keep_alive: seconds as a number, or a Go duration ("0", "0s", "5m", "-1").
 * Only zero matters here (unload now): how long an idle model stays is the node's setting.
 */
function isZeroKeepAlive(v: unknown): boolean {
  if (typeof v === "number") return v === 0;
  return typeof v === "string" && /^0+(\.0+)?(ns|us|µs|ms|s|m|h)?$/.test(v.trim());
}

/**
 * A chat or generate body with nothing to answer is Ollama's way to load a model ahead of use (its own CLI sends
 * an empty /api/chat before the first prompt), or, with keep_alive 0, to unload it. null: a real generation.
 */
export function ollamaLoadRequest(raw: unknown, chat: boolean): { model: string; unload: boolean } | null {
  const b = objectAt(raw, "body");
  const empty = chat ? b.messages === undefined || b.messages === null || (Array.isArray(b.messages) && b.messages.length === 0)
    : (b.prompt === undefined || b.prompt === null || b.prompt === "") && (b.suffix === undefined || b.suffix === null || b.suffix === "");
  if (!empty) return null;
  if (typeof b.model !== "string" || b.model.length === 0) bad("model", "model is required (a name from /api/tags).");
  return { model: b.model, unload: isZeroKeepAlive(b.keep_alive) };
}

/** POST /api/embed ({ input }) and the older /api/embeddings ({ prompt }) → an OpenAI embeddings body. */
export function ollamaEmbedToOpenAi(raw: unknown, legacy: boolean): { model: string; input: string[] } {
  const b = objectAt(raw, "body");
  if (typeof b.model !== "string" || b.model.length === 0) bad("model", "model is required (an embedding model from /api/tags).");
  if (b.truncate === false) bad("truncate", "truncate: false is not supported: inputs longer than the model's context are truncated.");
  const input = legacy ? b.prompt : b.input;
  const list = typeof input === "string" ? [input] : input;
  if (!Array.isArray(list) || list.length === 0 || list.some((s) => typeof s !== "string"))
    bad(legacy ? "prompt" : "input", legacy ? "prompt must be a string." : "input must be a string or a non-empty array of strings.");
  return { model: b.model, input: list as string[] };
}
