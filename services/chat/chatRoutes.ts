import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { openAiErrorHandler } from "../../core/http/openAiError.js";
import { charged, finishReason, meterTokens, respond } from "../inference/routes/openAiResponse.js";
import type { ToolCallDelta } from "../inference/types.js";
import { parseChatCompletion, type ParsedChatCompletion } from "./parseChatCompletion.js";
import { respondResponses } from "./respondResponses.js";
import { responsesToChat } from "./responsesToChat.js";
import type { ChatApi, ChatResult } from "./types.js";

/** The caller's user id (the auth service's principal; "local" without one, as the memory service does). */
function userIdOf(request: FastifyRequest): string {
  const userId = request.principal?.userId;
  return typeof userId === "string" && userId.length > 0 ? userId : "local";
}

/** Response header naming the node that generated the answer: "local", or the peer's node id. */
export const SERVED_BY_HEADER = "x-sovereign-served-by";

/**
 * Extension field `sovereign` (when the request named a conversation or asked
 * for memory, or a peer answered): the stored message ids (for feedback), the
 * memory ids the prompt cited, and the node that generated the answer.
 */
function extension(r: ChatResult): Record<string, unknown> {
  if (!r.conversation && !r.citations && r.servedBy === "local") return {};
  return {
    sovereign: {
      served_by: r.servedBy,
      ...(r.servedByName ? { served_by_name: r.servedByName } : {}),
      conversation_id: r.conversation?.id ?? null,
      user_message_id: r.conversation?.userMessageId ?? null,
      assistant_message_id: r.conversation?.assistantMessageId ?? null,
      citations: r.citations ?? [],
      reused_prompt_tokens: r.reusedPromptTokens,
    },
  };
}

/**
 * POST /v1/chat/completions (OpenAI's shape and errors), registered under the
 * /v1 prefix beside inference's routes. The web UI's chat uses it too.
 * Access: an authenticated caller with the "chat" scope.
 */
export async function chatRoutes(app: FastifyInstance, opts: { chat: ChatApi }): Promise<void> {
  const { chat } = opts;
  app.setErrorHandler(openAiErrorHandler);
  /** One chat turn for a parsed request, metered against the caller's quota: both routes run it. */
  const turn = (request: FastifyRequest, reply: FastifyReply, p: ParsedChatCompletion) => {
    const q = meterTokens(app, request, p.sampling);
    return (onText: ((t: string) => void) | undefined, signal: AbortSignal, onToolCall?: (delta: ToolCallDelta) => void) => charged(q, chat.complete({
      messages: p.messages, sampling: p.sampling, signal, memory: p.memory, userId: userIdOf(request),
      ...(p.tools ? { tools: p.tools } : {}), ...(p.tools && onToolCall ? { onToolCall } : {}),
      ...(p.model ? { model: p.model } : {}), ...(p.conversationId ? { conversationId: p.conversationId } : {}), ...(onText ? { onText } : {}),
      // Known before the first token, so a stream's headers carry it too.
      onServedBy: (by) => (p.stream ? reply.raw.setHeader(SERVED_BY_HEADER, by) : reply.header(SERVED_BY_HEADER, by)),
    }));
  };

  app.post("/chat/completions", { config: { scope: "chat" } }, async (request, reply) => {
    const p = parseChatCompletion(request.body);
    return respond(
      request, reply, p,
      turn(request, reply, p),
      {
        object: "chat.completion", chunkObject: "chat.completion.chunk", idPrefix: "chatcmpl",
        chunk: (text, finish, first) => ({
          choices: [{ index: 0, delta: first ? { role: "assistant", content: "" } : text !== null ? { content: text } : {}, logprobs: null, finish_reason: finish }],
        }),
        // OpenAI's tool-call delta: the first piece of a call has its index, id, type and name (arguments ""), later ones add arguments.
        toolChunk: (d) => ({
          choices: [{
            index: 0, logprobs: null, finish_reason: null,
            delta: { tool_calls: [d.id !== undefined ? { index: d.index, id: d.id, type: "function", function: { name: d.name ?? "", arguments: d.arguments } } : { index: d.index, function: { arguments: d.arguments } }] },
          }],
        }),
        full: (r) => ({
          choices: [{
            index: 0, logprobs: null, finish_reason: finishReason(r.finishReason),
            message: {
              role: "assistant", refusal: null,
              // As OpenAI: content is null when the answer is only tool calls.
              content: r.toolCalls && r.text === "" ? null : r.text,
              ...(r.toolCalls ? { tool_calls: r.toolCalls } : {}),
            },
          }],
        }),
        extra: extension,
      },
    );
  });

  // OpenAI's Responses API (what newer SDKs and agents call), translated into the same chat turn. Stateless: nothing
  // is stored, so GET and DELETE of a response id say so instead of a bare 404.
  app.post("/responses", { config: { scope: "chat" } }, async (request, reply) => {
    const t = responsesToChat(request.body);
    const p = parseChatCompletion(t.chat);
    return respondResponses(request, reply, p, t.echo, turn(request, reply, p), extension);
  });
  const notStored = async (request: FastifyRequest<{ Params: { id: string } }>) => {
    throw new SovereignError("RESPONSE_NOT_STORED", `Response "${request.params.id}" is not on this node: it stores no responses.`);
  };
  app.get("/responses/:id", { config: { scope: "chat" } }, notStored);
  app.delete("/responses/:id", { config: { scope: "chat" } }, notStored);
  app.get("/responses/:id/input_items", { config: { scope: "chat" } }, notStored);
  app.post("/responses/:id/cancel", { config: { scope: "chat" } }, notStored);
}
