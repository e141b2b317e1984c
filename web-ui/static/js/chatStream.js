// Streams /v1/chat/completions (OpenAI SSE) with fetch, so the stop button can abort it.
import { ApiError, csrfHeaders } from "./api.js";

/**
 * Calls onDelta(text) for each content piece and onExtra(chunk) for every
 * parsed chunk (the node adds its own fields, such as memory citations).
 * Resolves with { text, finishReason, usage } when the stream ends.
 */
export async function streamChat(body, { signal, onDelta, onExtra }) {
  const res = await fetch("/v1/chat/completions", {
    method: "POST",
    credentials: "same-origin",
    signal,
    headers: { "content-type": "application/json", accept: "text/event-stream", ...csrfHeaders() },
    body: JSON.stringify({ ...body, stream: true }),
  });
  if (!res.ok || !res.body) {
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    throw new ApiError(res.status, data);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let text = "";
  let finishReason = null;
  let usage = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, nl);
      buf = buf.slice(nl + 2);
      const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (!data || data === "[DONE]") continue;
      let chunk;
      try {
        chunk = JSON.parse(data);
      } catch {
        continue;
      }
      if (chunk.error) throw new ApiError(500, chunk);
      const choice = chunk.choices?.[0];
      const piece = choice?.delta?.content;
      if (piece) {
        text += piece;
        onDelta?.(piece, text);
      }
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
      onExtra?.(chunk);
    }
  }
  return { text, finishReason, usage };
}
