import { bad, objectAt, set } from "../inference/routes/parseOpenAi.js";

/**
 * OpenAI's Responses API (POST /v1/responses) translated into a chat
 * completion body, which parseChatCompletion then validates: one set of rules
 * for sampling, formats, tools and memory, whichever API a client speaks.
 * Pure, so recorded client requests serve as fixtures. Errors name the
 * Responses field (`input[2].content`), not the chat field it became.
 */

/** What the response object echoes back of the request (OpenAI returns these on every response). */
export interface ResponsesEcho {
  instructions: string | null;
  max_output_tokens: number | null;
  temperature: number | null;
  top_p: number | null;
  tools: unknown[];
  tool_choice: unknown;
  parallel_tool_calls: boolean;
  text: { format: Record<string, unknown> };
  metadata: Record<string, unknown>;
}

export interface TranslatedResponses {
  /** An OpenAI chat completion body. */
  chat: Record<string, unknown>;
  echo: ResponsesEcho;
}

/** A message's content: a string, or parts of which only text ones are accepted. */
function contentText(v: unknown, param: string): string {
  if (typeof v === "string") return v;
  if (!Array.isArray(v)) bad(param, `${param} must be a string or an array of input_text parts.`);
  return v.map((part: unknown, j: number) => {
    const p = objectAt(part, `${param}[${j}]`);
    if ((p.type === "input_text" || p.type === "output_text" || p.type === "text") && typeof p.text === "string") return p.text;
    if (p.type === "input_image" || p.type === "input_file" || p.type === "input_audio")
      return bad(`${param}[${j}]`, `${String(p.type)} is not supported: this node serves text models only.`);
    return bad(`${param}[${j}].type`, `${param}[${j}] must be an input_text part ({ type: "input_text", text }).`);
  }).join("");
}

/**
 * `input`: a string (one user message) or a list of items: messages (roles user, assistant, system, developer),
 * function_call and function_call_output (a tool round trip the client ran), and reasoning items, which are skipped:
 * they carry another server's state. item_reference needs stored responses, which this node does not keep.
 */
function inputMessages(input: unknown): Record<string, unknown>[] {
  if (typeof input === "string") return [{ role: "user", content: input }];
  if (!Array.isArray(input) || input.length === 0) bad("input", "input must be a string or a non-empty array of items.");
  const out: Record<string, unknown>[] = [];
  const calls = new Map<string, string>();
  let assistantCalls: Record<string, unknown>[] | null = null;
  input.forEach((raw: unknown, i: number) => {
    const item = objectAt(raw, `input[${i}]`);
    const type = item.type ?? "message";
    if (type === "function_call") {
      if (typeof item.call_id !== "string" || item.call_id === "") bad(`input[${i}].call_id`, "A function_call item needs its call_id.");
      if (typeof item.name !== "string" || item.name === "") bad(`input[${i}].name`, "A function_call item needs the function's name.");
      if (typeof item.arguments !== "string") bad(`input[${i}].arguments`, "arguments must be a JSON string.");
      try {
        JSON.parse(item.arguments);
      } catch {
        bad(`input[${i}].arguments`, "arguments must be a JSON string.");
      }
      const call = { id: item.call_id, type: "function", function: { name: item.name, arguments: item.arguments } };
      calls.set(item.call_id, item.name);
      // Consecutive calls belong to one assistant turn, as a chat template renders them.
      if (assistantCalls) assistantCalls.push(call);
      else {
        assistantCalls = [call];
        out.push({ role: "assistant", content: "", tool_calls: assistantCalls });
      }
      return;
    }
    if (type === "function_call_output") {
      if (typeof item.call_id !== "string" || !calls.has(item.call_id)) bad(`input[${i}].call_id`, `No function_call item before it has the call_id "${String(item.call_id)}".`);
      out.push({ role: "tool", tool_call_id: item.call_id, name: calls.get(item.call_id), content: contentText(item.output, `input[${i}].output`) });
      return;
    }
    assistantCalls = null;
    if (type === "reasoning") return;
    if (type === "item_reference") bad(`input[${i}]`, "item_reference needs stored responses, which this node does not keep: send the items themselves.");
    if (type !== "message") bad(`input[${i}].type`, `input[${i}].type "${String(type)}" is not supported (message, function_call, function_call_output).`);
    const role = item.role === "developer" ? "system" : item.role;
    if (role !== "user" && role !== "assistant" && role !== "system") bad(`input[${i}].role`, `input[${i}].role must be "user", "assistant", "system" or "developer".`);
    out.push({ role, content: contentText(item.content, `input[${i}].content`) });
  });
  return out;
}

/** Responses' flat function tools ({ type, name, parameters }) → chat's nested ones; the hosted tools are refused by name. */
function chatTools(tools: unknown): unknown[] | undefined {
  if (!set(tools)) return undefined;
  if (!Array.isArray(tools)) bad("tools", "tools must be an array of { type: \"function\", name, description?, parameters? }.");
  return tools.map((raw: unknown, i: number) => {
    const t = objectAt(raw, `tools[${i}]`);
    if (t.type !== "function") bad(`tools[${i}].type`, `${String(t.type)} is not offered by this offline node: only "function" tools, which the client runs.`);
    if (typeof t.name !== "string") bad(`tools[${i}].name`, "A function tool needs its name.");
    return { type: "function", function: { name: t.name, ...(set(t.description) ? { description: t.description } : {}), ...(set(t.parameters) ? { parameters: t.parameters } : {}) } };
  });
}

/** tool_choice: "auto" | "none" | "required" | { type: "function", name }. */
function chatToolChoice(v: unknown): unknown {
  if (!set(v) || typeof v === "string") return v;
  const c = objectAt(v, "tool_choice");
  if (c.type === "function" && typeof c.name === "string") return { type: "function", function: { name: c.name } };
  return bad("tool_choice", "tool_choice must be \"none\", \"auto\", \"required\" or { type: \"function\", name }.");
}

/** text.format: { type: "text" | "json_object" } or { type: "json_schema", name, schema } → response_format. */
function chatFormat(text: unknown): { responseFormat: unknown; format: Record<string, unknown> } {
  if (!set(text)) return { responseFormat: undefined, format: { type: "text" } };
  const t = objectAt(text, "text");
  if (set(t.verbosity)) bad("text.verbosity", "text.verbosity is not supported by the models this node serves.");
  if (!set(t.format)) return { responseFormat: undefined, format: { type: "text" } };
  const f = objectAt(t.format, "text.format");
  if (f.type === "text" || f.type === "json_object") return { responseFormat: { type: f.type }, format: f };
  if (f.type === "json_schema") {
    if (typeof f.schema !== "object" || f.schema === null || Array.isArray(f.schema)) bad("text.format.schema", "text.format.schema must be a JSON schema object.");
    return { responseFormat: { type: "json_schema", json_schema: { name: f.name ?? "format", schema: f.schema } }, format: f };
  }
  return bad("text.format.type", "text.format.type must be \"text\", \"json_object\" or \"json_schema\".");
}

export function responsesToChat(raw: unknown): TranslatedResponses {
  const b = objectAt(raw, "body");
  // Stateful features need responses stored on the node; it keeps none (the client holds the conversation).
  if (set(b.previous_response_id)) bad("previous_response_id", "previous_response_id is not supported: this node does not store responses. Send the conversation in input.");
  if (set(b.conversation)) bad("conversation", "conversation is not supported: this node does not store responses. Send the conversation in input.");
  if (b.background === true) bad("background", "background responses are not supported: this node does not store responses.");
  if (set(b.prompt)) bad("prompt", "Stored prompt templates are not supported.");
  const reasoning = b.reasoning as Record<string, unknown> | null | undefined;
  if (set(reasoning) && (set(objectAt(reasoning, "reasoning").effort) || set(reasoning?.summary))) bad("reasoning", "reasoning options are not supported by the models this node serves.");
  if (set(b.top_logprobs)) bad("top_logprobs", "top_logprobs is not supported: the engine does not expose token probabilities.");
  if (set(b.max_tool_calls)) bad("max_tool_calls", "max_tool_calls is not supported; use parallel_tool_calls: false for one call per answer.");
  if (set(b.metadata) && (typeof b.metadata !== "object" || Array.isArray(b.metadata))) bad("metadata", "metadata must be an object of strings.");
  if (set(b.instructions) && typeof b.instructions !== "string") bad("instructions", "instructions must be a string.");

  const messages = inputMessages(b.input);
  if (typeof b.instructions === "string" && b.instructions !== "") messages.unshift({ role: "system", content: b.instructions });
  const { responseFormat, format } = chatFormat(b.text);
  const tools = chatTools(b.tools);
  const chat: Record<string, unknown> = { messages };
  const copy: Array<[string, string]> = [["stream", "stream"], ["model", "model"], ["temperature", "temperature"], ["top_p", "top_p"], ["max_output_tokens", "max_tokens"], ["parallel_tool_calls", "parallel_tool_calls"], ["memory", "memory"], ["seed", "seed"]];
  for (const [from, to] of copy) if (set(b[from])) chat[to] = b[from];
  if (tools) chat.tools = tools;
  if (set(b.tool_choice)) chat.tool_choice = chatToolChoice(b.tool_choice);
  if (responseFormat) chat.response_format = responseFormat;
  return {
    chat,
    echo: {
      instructions: typeof b.instructions === "string" ? b.instructions : null,
      max_output_tokens: typeof b.max_output_tokens === "number" ? b.max_output_tokens : null,
      temperature: typeof b.temperature === "number" ? b.temperature : null,
      top_p: typeof b.top_p === "number" ? b.top_p : null,
      tools: Array.isArray(b.tools) ? b.tools : [],
      tool_choice: b.tool_choice ?? "auto",
      parallel_tool_calls: b.parallel_tool_calls !== false,
      text: { format },
      metadata: (b.metadata as Record<string, unknown> | undefined) ?? {},
    },
  };
}
