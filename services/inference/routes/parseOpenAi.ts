import { SovereignError } from "../../../core/errors/SovereignError.js";
import type { ChatMessage, SamplingOptions } from "../types.js";

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

const set = (v: unknown) => v !== undefined && v !== null;

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
  for (const key of ["tools", "functions"]) if (set(b[key]) && !(Array.isArray(b[key]) && (b[key] as unknown[]).length === 0)) bad(key, `${key} (function calling) is not supported by this node yet.`);
  for (const key of ["tool_choice", "function_call"]) if (set(b[key]) && b[key] !== "none" && b[key] !== "auto") bad(key, `${key} is not supported: this node offers no function calling yet.`);
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

export function parseChatRequest(body: unknown): ParsedGeneration & { messages: ChatMessage[] } {
  const b = asObject(body);
  if (!Array.isArray(b.messages) || b.messages.length === 0) bad("messages", "messages must be a non-empty array.");
  const messages: ChatMessage[] = b.messages.map((m: unknown, i: number) => {
    const msg = asObject(m);
    const role = msg.role === "developer" ? "system" : msg.role;
    if (role !== "system" && role !== "user" && role !== "assistant") bad(`messages[${i}].role`, `messages[${i}].role must be "system", "user" or "assistant".`);
    return { role, content: contentText(msg.content, i) };
  });
  return { ...common(b, "chat"), messages };
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
