import { randomBytes } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { openAiErrorBody } from "../../core/http/openAiError.js";
import { disconnectSignal, endStreamWithError } from "../inference/routes/openAiResponse.js";
import type { ToolCallDelta } from "../inference/types.js";
import type { ResponsesEcho } from "./responsesToChat.js";
import type { ChatResult } from "./types.js";

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;

interface MessageItem {
  id: string;
  type: "message";
  status: "in_progress" | "completed" | "incomplete";
  role: "assistant";
  content: Array<{ type: "output_text"; text: string; annotations: unknown[]; logprobs: unknown[] }>;
}

interface FunctionCallItem {
  id: string;
  type: "function_call";
  status: "in_progress" | "completed";
  call_id: string;
  name: string;
  arguments: string;
}

type OutputItem = MessageItem | FunctionCallItem;

function usage(r: ChatResult) {
  return {
    input_tokens: r.promptTokens,
    input_tokens_details: { cached_tokens: r.reusedPromptTokens },
    output_tokens: r.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: r.promptTokens + r.completionTokens,
  };
}

/** A whole (not streamed) turn's output items: the text (unless the answer is only function calls), then each call. */
function outputOf(r: ChatResult, messageId: string): OutputItem[] {
  const out: OutputItem[] = [];
  const incomplete = r.finishReason === "length";
  if (r.text !== "" || !r.toolCalls?.length) {
    out.push({ id: messageId, type: "message", status: incomplete ? "incomplete" : "completed", role: "assistant", content: [{ type: "output_text", text: r.text, annotations: [], logprobs: [] }] });
  }
  for (const c of r.toolCalls ?? []) {
    out.push({ id: newId("fc"), type: "function_call", status: "completed", call_id: c.id, name: c.function.name, arguments: c.function.arguments });
  }
  return out;
}

/**
 * Runs one chat turn and answers in the Responses API's shape: a response
 * object, or with stream an SSE sequence of typed events (response.created,
 * output items and their deltas, response.completed). As on chat completions,
 * headers go out with the first event, so an error before it (quota, queue
 * full, prompt too long) keeps its HTTP status; one after it ends the stream
 * with response.failed. Nothing is stored: `store` is always false.
 */
export async function respondResponses(
  request: FastifyRequest,
  reply: FastifyReply,
  p: { stream: boolean; model: string | undefined },
  echo: ResponsesEcho,
  run: (onText: ((t: string) => void) | undefined, signal: AbortSignal, onToolCall?: (delta: ToolCallDelta) => void) => Promise<ChatResult>,
  extra: (r: ChatResult) => Record<string, unknown>,
): Promise<unknown> {
  const id = newId("resp");
  const createdAt = Math.floor(Date.now() / 1000);
  const signal = disconnectSignal(request, reply);
  const messageId = newId("msg");
  const snapshot = (model: string, status: string, output: OutputItem[], r?: ChatResult) => ({
    id, object: "response", created_at: createdAt, status, error: null,
    incomplete_details: r?.finishReason === "length" ? { reason: "max_output_tokens" } : null,
    model, output, previous_response_id: null, store: false, ...echo,
    usage: r ? usage(r) : null,
    ...(r ? extra(r) : {}),
  });
  if (!p.stream) {
    const r = await run(undefined, signal);
    return reply.send(snapshot(r.model, r.finishReason === "length" ? "incomplete" : "completed", outputOf(r, messageId), r));
  }

  let seq = 0;
  let started = false;
  let model = p.model ?? "";
  const output: OutputItem[] = [];
  let message: MessageItem | null = null;
  const calls = new Map<number, FunctionCallItem>();
  const send = (type: string, payload: Record<string, unknown>) => {
    if (!signal.aborted) reply.raw.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...payload })}\n\n`);
  };
  const start = () => {
    if (started) return;
    started = true;
    reply.hijack();
    reply.raw.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
    send("response.created", { response: snapshot(model, "in_progress", []) });
    send("response.in_progress", { response: snapshot(model, "in_progress", []) });
  };
  const closeMessage = (status: MessageItem["status"]) => {
    if (!message) return;
    const i = output.indexOf(message);
    const part = message.content[0]!;
    message.status = status;
    send("response.output_text.done", { item_id: message.id, output_index: i, content_index: 0, text: part.text, logprobs: [] });
    send("response.content_part.done", { item_id: message.id, output_index: i, content_index: 0, part });
    send("response.output_item.done", { output_index: i, item: message });
    message = null;
  };
  const openMessage = (): MessageItem => {
    if (message) return message;
    const item: MessageItem = { id: messageId, type: "message", status: "in_progress", role: "assistant", content: [] };
    output.push(item);
    const i = output.length - 1;
    send("response.output_item.added", { output_index: i, item: { ...item, content: [] } });
    item.content.push({ type: "output_text", text: "", annotations: [], logprobs: [] });
    send("response.content_part.added", { item_id: item.id, output_index: i, content_index: 0, part: { type: "output_text", text: "", annotations: [], logprobs: [] } });
    message = item;
    return item;
  };
  const onText = (text: string) => {
    start();
    const item = openMessage();
    item.content[0]!.text += text;
    send("response.output_text.delta", { item_id: item.id, output_index: output.indexOf(item), content_index: 0, delta: text, logprobs: [] });
  };
  const onToolCall = (d: ToolCallDelta) => {
    start();
    let call = calls.get(d.index);
    if (!call) {
      call = { id: newId("fc"), type: "function_call", status: "in_progress", call_id: d.id ?? `call_${d.index}`, name: d.name ?? "", arguments: "" };
      calls.set(d.index, call);
      output.push(call);
      send("response.output_item.added", { output_index: output.length - 1, item: { ...call } });
    }
    if (d.arguments === "") return;
    call.arguments += d.arguments;
    send("response.function_call_arguments.delta", { item_id: call.id, output_index: output.indexOf(call), delta: d.arguments });
  };
  try {
    const r = await run(onText, signal, onToolCall);
    model = r.model;
    if (signal.aborted) {
      if (started) reply.raw.end();
      return reply;
    }
    start();
    const incomplete = r.finishReason === "length";
    // An empty answer is still one (empty) message, as outputOf reports it.
    if (!r.toolCalls?.length && output.length === 0) openMessage();
    closeMessage(incomplete ? "incomplete" : "completed");
    // The calls as the engine parsed them are the authority: the streamed pieces only previewed them.
    for (const c of r.toolCalls ?? []) {
      const item = [...calls.values()].find((x) => x.call_id === c.id);
      if (!item) continue;
      item.arguments = c.function.arguments;
      item.status = "completed";
      const i = output.indexOf(item);
      send("response.function_call_arguments.done", { item_id: item.id, output_index: i, name: item.name, arguments: item.arguments });
      send("response.output_item.done", { output_index: i, item });
    }
    // The items in the order they streamed (their output_index), with the final text and arguments.
    send(incomplete ? "response.incomplete" : "response.completed", { response: snapshot(model, incomplete ? "incomplete" : "completed", output, r) });
    reply.raw.end();
    return reply;
  } catch (err) {
    if (!started) throw err;
    return endStreamWithError(request, reply, err, (e) =>
      send("response.failed", { response: { ...snapshot(model, "failed", output), error: { code: openAiErrorBody(e).error.code, message: e.message } } }));
  }
}
