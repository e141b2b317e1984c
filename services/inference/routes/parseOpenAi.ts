import { SovereignError } from "../../../core/errors/SovereignError.js";
import type { ChatMessage, SamplingOptions, ToolCallRecord, ToolChoice, ToolFunction, ToolsSpec } from "../types.js";

/** The parts of an OpenAI request this node honours; known parameters it cannot honour are refused by name, unknown fields are ignored as OpenAI's own API does. */
export interface ParsedGeneration {
  model: string | undefined;
  sampling: SamplingOptions;
  stream: boolean;
  includeUsage: boolean;
  /**
   * Extension `conversation_id`: on chat, the caller's stored conversation
   * (services/chat); on a raw completion, only the KV slot to reuse.
   */
  conversationId: string | undefined;
}

export function bad(param: string, message: string, code: "BAD_REQUEST" | "INVALID_SAMPLING" = "BAD_REQUEST"): never {
  throw new SovereignError(code, message, { details: { param } });
}

/** `v` as a JSON object, or BAD_REQUEST naming `param`: for the translators of other APIs' bodies (Ollama, Responses). */
export function objectAt(v: unknown, param: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(param, `${param} must be a JSON object.`);
  return v as Record<string, unknown>;
}

function asObject(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) bad("body", "The request body must be a JSON object.");
  return body as Record<string, unknown>;
}

function optNumber(b: Record<string, unknown>, key: string): number | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number") bad(key, `${key} must be a number.`, "INVALID_SAMPLING");
  return v;
}

/** Sent with a value: neither absent nor null. */
export const set = (v: unknown) => v !== undefined && v !== null;

/**
 * OpenAI parameters this node does not implement: refused by name, never
 * silently ignored (a client that asks for them would get an answer that
 * quietly lacks them). The engine exposes no token probabilities through its
 * generation API, so logprobs cannot be served.
 */
function refuseUnsupported(b: Record<string, unknown>, kind: "chat" | "completion"): void {
  if (set(b.n) && b.n !== 1) bad("n", "Only n = 1 is supported.");
  if (set(b.logprobs) && b.logprobs !== false) bad("logprobs", "logprobs is not supported: the engine does not expose token probabilities.");
  if (set(b.top_logprobs)) bad("top_logprobs", "top_logprobs is not supported: the engine does not expose token probabilities.");
  // The deprecated pre-tools API: clients that speak it all speak `tools` too.
  if (set(b.functions) && !(Array.isArray(b.functions) && b.functions.length === 0)) bad("functions", "functions (the deprecated function-calling API) is not supported: send tools instead.");
  if (set(b.function_call) && b.function_call !== "none" && b.function_call !== "auto") bad("function_call", "function_call (the deprecated function-calling API) is not supported: send tool_choice instead.");
  if (kind === "completion") for (const key of ["tools", "tool_choice"]) if (set(b[key])) bad(key, `${key} needs /v1/chat/completions.`);
  if (set(b.audio)) bad("audio", "audio output is not supported: this node serves text models only.");
  if (set(b.modalities) && !(Array.isArray(b.modalities) && b.modalities.every((m) => m === "text"))) bad("modalities", "Only the \"text\" modality is supported.");
  if (set(b.prediction)) bad("prediction", "prediction (predicted outputs) is not supported.");
  if (set(b.web_search_options)) bad("web_search_options", "web search is not supported on this offline node.");
  for (const key of ["reasoning_effort", "verbosity"]) if (set(b[key])) bad(key, `${key} is not supported by the models this node serves.`);
  if (kind === "completion") {
    if (set(b.best_of) && b.best_of !== 1) bad("best_of", "Only best_of = 1 is supported.");
    if (set(b.echo) && b.echo !== false) bad("echo", "echo is not supported.");
    if (set(b.suffix) && b.suffix !== "") bad("suffix", "suffix (insertion) is not supported.");
  }
}

function common(b: Record<string, unknown>, kind: "chat" | "completion"): ParsedGeneration {
  if (b.model !== undefined && typeof b.model !== "string") bad("model", "model must be a string.");
  refuseUnsupported(b, kind);
  const stop = b.stop === undefined || b.stop === null ? undefined : typeof b.stop === "string" ? [b.stop] : b.stop;
  if (stop !== undefined && (!Array.isArray(stop) || stop.some((s) => typeof s !== "string"))) bad("stop", "stop must be a string or an array of strings.", "INVALID_SAMPLING");
  const maxTokens = optNumber(b, "max_completion_tokens") ?? optNumber(b, "max_tokens");
  const sampling: SamplingOptions = {};
  const temperature = optNumber(b, "temperature");
  const topP = optNumber(b, "top_p");
  const seed = optNumber(b, "seed");
  if (temperature !== undefined) sampling.temperature = temperature;
  if (topP !== undefined) sampling.topP = topP;
  if (maxTokens !== undefined) sampling.maxTokens = maxTokens;
  if (seed !== undefined) sampling.seed = seed;
  if (stop !== undefined) sampling.stop = stop as string[];
  const numeric: [string, "topK" | "minP" | "frequencyPenalty" | "presencePenalty" | "repeatPenalty" | "repeatLastN"][] = [
    ["top_k", "topK"], ["min_p", "minP"], ["frequency_penalty", "frequencyPenalty"], ["presence_penalty", "presencePenalty"],
    ["repeat_penalty", "repeatPenalty"], ["repeat_last_n", "repeatLastN"],
  ];
  for (const [key, field] of numeric) {
    const v = optNumber(b, key);
    if (v !== undefined) sampling[field] = v;
  }
  if (set(b.logit_bias)) {
    if (typeof b.logit_bias !== "object" || Array.isArray(b.logit_bias)) bad("logit_bias", "logit_bias must be an object of token ids mapped to numbers.", "INVALID_SAMPLING");
    if (Object.keys(b.logit_bias as object).length > 0) sampling.logitBias = b.logit_bias as Record<string, number>;
  }
  const rf = b.response_format;
  if (rf !== undefined && rf !== null) {
    const r = asObject(rf);
    if (r.type === "json_schema") {
      const js = r.json_schema as Record<string, unknown> | undefined;
      if (typeof js !== "object" || js === null || typeof js.schema !== "object" || js.schema === null)
        bad("response_format", "response_format.json_schema.schema must be a JSON schema object.");
      sampling.jsonSchema = js.schema as object;
    } else if (r.type === "json_object") sampling.json = true;
    else if (r.type !== "text") bad("response_format", "response_format.type must be \"text\", \"json_object\" or \"json_schema\".");
  }
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== "boolean") bad("stream", "stream must be true or false.");
  const so = b.stream_options as Record<string, unknown> | undefined | null;
  if (b.conversation_id !== undefined && (typeof b.conversation_id !== "string" || b.conversation_id.length === 0 || b.conversation_id.length > 200))
    bad("conversation_id", "conversation_id must be a string of 1 to 200 characters.");
  return {
    model: b.model as string | undefined,
    sampling,
    stream: b.stream === true,
    includeUsage: typeof so === "object" && so !== null && so.include_usage === true,
    conversationId: b.conversation_id as string | undefined,
  };
}

function contentText(content: unknown, i: number): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part: unknown) => {
        const p = part as Record<string, unknown>;
        if (p?.type === "text" && typeof p.text === "string") return p.text;
        return bad(`messages[${i}].content`, "Only text content parts are supported.");
      })
      .join("");
  }
  if (content === null || content === undefined) return "";
  return bad(`messages[${i}].content`, "content must be a string or an array of text parts.");
}

const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** OpenAI's `tools` (function tools only), `tool_choice` and `parallel_tool_calls`; undefined without tools. */
function parseTools(b: Record<string, unknown>): ToolsSpec | undefined {
  const choiceRaw = b.tool_choice;
  if (!set(b.tools) || (Array.isArray(b.tools) && b.tools.length === 0)) {
    if (set(choiceRaw) && choiceRaw !== "none" && choiceRaw !== "auto") bad("tool_choice", "tool_choice needs tools.");
    return undefined;
  }
  if (!Array.isArray(b.tools)) bad("tools", "tools must be an array of { type: \"function\", function: { name, description?, parameters? } }.");
  if (b.tools.length > 128) bad("tools", "tools may hold at most 128 functions.");
  const seen = new Set<string>();
  const functions: ToolFunction[] = b.tools.map((t: unknown, i: number) => {
    const tool = asObject(t);
    if (tool.type !== "function") bad(`tools[${i}].type`, `tools[${i}].type must be "function" (the only tool type this node offers).`);
    const fn = asObject(tool.function);
    if (typeof fn.name !== "string" || !NAME.test(fn.name)) bad(`tools[${i}].function.name`, "A function name must be 1 to 64 letters, digits, _ or -.");
    if (seen.has(fn.name)) bad(`tools[${i}].function.name`, `Two tools are named "${fn.name}".`);
    seen.add(fn.name);
    if (set(fn.description) && typeof fn.description !== "string") bad(`tools[${i}].function.description`, "description must be a string.");
    if (set(fn.parameters) && (typeof fn.parameters !== "object" || Array.isArray(fn.parameters))) bad(`tools[${i}].function.parameters`, "parameters must be a JSON schema object.");
    const type = set(fn.parameters) ? (fn.parameters as Record<string, unknown>).type : undefined;
    if (type !== undefined && type !== "object") bad(`tools[${i}].function.parameters`, "parameters must describe an object (type \"object\"): arguments are always a JSON object.");
    return { name: fn.name, ...(typeof fn.description === "string" ? { description: fn.description } : {}), ...(set(fn.parameters) ? { parameters: fn.parameters as object } : {}) };
  });
  let choice: ToolChoice = "auto";
  if (choiceRaw === "none" || choiceRaw === "auto" || choiceRaw === "required") choice = choiceRaw;
  else if (set(choiceRaw)) {
    const c = typeof choiceRaw === "object" && !Array.isArray(choiceRaw) ? (choiceRaw as Record<string, unknown>) : null;
    const name = c?.type === "function" && typeof c.function === "object" && c.function !== null ? (c.function as Record<string, unknown>).name : undefined;
    if (typeof name !== "string") bad("tool_choice", "tool_choice must be \"none\", \"auto\", \"required\" or { type: \"function\", function: { name } }.");
    if (!seen.has(name)) bad("tool_choice", `tool_choice names "${name}", which is not in tools.`);
    choice = { name };
  }
  if (set(b.parallel_tool_calls) && typeof b.parallel_tool_calls !== "boolean") bad("parallel_tool_calls", "parallel_tool_calls must be true or false.");
  return { functions, choice, parallel: b.parallel_tool_calls !== false };
}

/** An assistant message's `tool_calls` (the arguments as a JSON string). */
function parseToolCalls(v: unknown, i: number): Omit<ToolCallRecord, "result">[] {
  if (!Array.isArray(v)) bad(`messages[${i}].tool_calls`, "tool_calls must be an array.");
  return v.map((c: unknown, j: number) => {
    const call = asObject(c);
    const fn = asObject(call.function);
    const at = `messages[${i}].tool_calls[${j}]`;
    if (typeof call.id !== "string" || call.id === "") bad(`${at}.id`, "Each tool call needs its id.");
    if (typeof fn.name !== "string" || fn.name === "") bad(`${at}.function.name`, "Each tool call needs the function's name.");
    if (typeof fn.arguments !== "string") bad(`${at}.function.arguments`, "arguments must be a JSON string.");
    try {
      JSON.parse(fn.arguments);
    } catch {
      bad(`${at}.function.arguments`, "arguments must be a JSON string.");
    }
    return { id: call.id, type: "function" as const, function: { name: fn.name, arguments: fn.arguments } };
  });
}

/**
 * The messages: `tool` messages are folded into the assistant turn whose call
 * they answer (by tool_call_id), which is how the chat template renders them.
 */
function parseMessages(list: unknown[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  const open = new Map<string, ToolCallRecord>();
  list.forEach((m: unknown, i: number) => {
    const msg = asObject(m);
    const role = msg.role === "developer" ? "system" : msg.role;
    if (role === "tool") {
      if (typeof msg.tool_call_id !== "string") bad(`messages[${i}].tool_call_id`, "A tool message needs the tool_call_id it answers.");
      const call = open.get(msg.tool_call_id);
      if (!call) bad(`messages[${i}].tool_call_id`, `No assistant tool call before it has the id "${msg.tool_call_id}".`);
      call.result = contentText(msg.content, i);
      open.delete(msg.tool_call_id);
      return;
    }
    if (open.size > 0) bad(`messages[${i}]`, `The tool calls ${[...open.keys()].join(", ")} have no tool message answering them.`);
    if (role !== "system" && role !== "user" && role !== "assistant") bad(`messages[${i}].role`, `messages[${i}].role must be "system", "user", "assistant" or "tool".`);
    const message: ChatMessage = { role, content: contentText(msg.content, i) };
    if (role === "assistant" && set(msg.tool_calls) && !(Array.isArray(msg.tool_calls) && msg.tool_calls.length === 0)) {
      message.toolCalls = parseToolCalls(msg.tool_calls, i).map((c) => ({ ...c, result: "" }));
      for (const c of message.toolCalls) open.set(c.id, c);
    }
    out.push(message);
  });
  if (open.size > 0) bad("messages", `The tool calls ${[...open.keys()].join(", ")} have no tool message answering them.`);
  return out;
}

export function parseChatRequest(body: unknown): ParsedGeneration & { messages: ChatMessage[]; tools: ToolsSpec | undefined } {
  const b = asObject(body);
  if (!Array.isArray(b.messages) || b.messages.length === 0) bad("messages", "messages must be a non-empty array.");
  const messages = parseMessages(b.messages);
  return { ...common(b, "chat"), messages, tools: parseTools(b) };
}

export function parseCompletionRequest(body: unknown): ParsedGeneration & { prompt: string } {
  const b = asObject(body);
  let prompt = b.prompt;
  if (Array.isArray(prompt)) {
    if (prompt.length !== 1 || typeof prompt[0] !== "string") bad("prompt", "prompt must be a string (or an array of one string).");
    prompt = prompt[0];
  }
  if (typeof prompt !== "string") bad("prompt", "prompt must be a string.");
  return { ...common(b, "completion"), prompt };
}

export function parseEmbeddingRequest(body: unknown): { model: string | undefined; input: string[]; base64: boolean } {
  const b = asObject(body);
  if (b.model !== undefined && typeof b.model !== "string") bad("model", "model must be a string.");
  const input = typeof b.input === "string" ? [b.input] : b.input;
  if (!Array.isArray(input) || input.length === 0 || input.some((s) => typeof s !== "string"))
    bad("input", "input must be a string or a non-empty array of strings (token arrays are not supported).");
  if (input.length > 2048) bad("input", "input may hold at most 2048 texts.");
  if (b.encoding_format !== undefined && b.encoding_format !== "float" && b.encoding_format !== "base64") bad("encoding_format", "encoding_format must be \"float\" or \"base64\".");
  if (b.dimensions !== undefined) bad("dimensions", "dimensions cannot be changed for these models.");
  return { model: b.model as string | undefined, input: input as string[], base64: b.encoding_format === "base64" };
}
