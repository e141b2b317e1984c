import { describe, expect, it } from "vitest";
import { ollamaChatToOpenAi, ollamaEmbedToOpenAi, ollamaGenerateToOpenAi } from "../../services/ollama/toOpenAiBody.js";
import { doneStats, humanParameters, ollamaToolCalls, tagsBody } from "../../services/ollama/ollamaShapes.js";
import { parseChatRequest } from "../../services/inference/routes/parseOpenAi.js";
import type { ModelEntry } from "../../services/inference/ModelRegistry.js";

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return { code: (err as { code?: string }).code, param: (err as { details?: { param?: string } }).details?.param };
  }
  return undefined;
};

describe("Ollama requests in OpenAI's shape", () => {
  it("maps chat options to sampling fields and streams by default, as Ollama does", () => {
    const t = ollamaChatToOpenAi({
      model: "m", messages: [{ role: "user", content: "hi" }],
      options: { temperature: 0, top_p: 0.5, seed: 7, num_predict: 12, stop: ["\n\n"], num_ctx: 4096, num_thread: 2 },
    });
    expect(t.body).toMatchObject({ model: "m", stream: true, temperature: 0, top_p: 0.5, seed: 7, max_tokens: 12, stop: ["\n\n"] });
    expect(t.ignoredOptions).toEqual(["num_ctx", "num_thread"]);
    const parsed = parseChatRequest(t.body);
    expect(parsed.sampling).toMatchObject({ temperature: 0, topP: 0.5, seed: 7, maxTokens: 12, stop: ["\n\n"] });
    expect(parsed.stream).toBe(true);
  });

  it("num_predict below zero means as long as the context allows", () => {
    expect(ollamaChatToOpenAi({ model: "m", messages: [], options: { num_predict: -1 } }).body.max_tokens).toBeUndefined();
  });

  it("refuses an unknown option by name instead of ignoring it", () => {
    expect(code(() => ollamaChatToOpenAi({ model: "m", messages: [], options: { mirostat_tau: 5 } }))).toEqual({ code: "BAD_REQUEST", param: "options.mirostat_tau" });
  });

  it("turns format json and a schema into response_format", () => {
    expect(ollamaChatToOpenAi({ model: "m", messages: [], format: "json" }).body.response_format).toEqual({ type: "json_object" });
    const schema = { type: "object", properties: { a: { type: "integer" } } };
    expect(ollamaChatToOpenAi({ model: "m", messages: [], format: schema }).body.response_format).toEqual({ type: "json_schema", json_schema: { name: "format", schema } });
    expect(code(() => ollamaChatToOpenAi({ model: "m", messages: [], format: "yaml" }))?.param).toBe("format");
  });

  it("carries tool calls (object arguments) and pairs tool results with the call of that name", () => {
    const t = ollamaChatToOpenAi({
      model: "m",
      messages: [
        { role: "user", content: "weather?" },
        { role: "assistant", content: "", tool_calls: [{ function: { name: "get_weather", arguments: { city: "Oslo" } } }] },
        { role: "tool", tool_name: "get_weather", content: "-3 C" },
      ],
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
    });
    const msgs = t.body.messages as Array<Record<string, unknown>>;
    expect(msgs[1]?.tool_calls).toEqual([{ id: "call_1_0", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }]);
    expect(msgs[2]).toMatchObject({ role: "tool", tool_call_id: "call_1_0", name: "get_weather" });
    expect(t.body.tools).toHaveLength(1);
  });

  it("refuses images, template and context with the parameter named", () => {
    expect(code(() => ollamaChatToOpenAi({ model: "m", messages: [{ role: "user", content: "x", images: ["aGk="] }] }))?.param).toBe("messages[0].images");
    expect(code(() => ollamaGenerateToOpenAi({ model: "m", prompt: "x", context: [1, 2] }))?.param).toBe("context");
    expect(code(() => ollamaGenerateToOpenAi({ model: "m", prompt: "x", template: "{{ .Prompt }}" }))?.param).toBe("template");
    expect(code(() => ollamaChatToOpenAi({ messages: [] }))?.param).toBe("model");
  });

  it("generate uses the chat template unless raw, where suffix is allowed", () => {
    const templated = ollamaGenerateToOpenAi({ model: "m", prompt: "Hello", system: "Be brief", stream: false });
    expect(templated.chat).toBe(true);
    expect(templated.body).toMatchObject({ stream: false, messages: [{ role: "system", content: "Be brief" }, { role: "user", content: "Hello" }] });
    const raw = ollamaGenerateToOpenAi({ model: "m", prompt: "def f(", suffix: "\n", raw: true });
    expect(raw.chat).toBe(false);
    expect(raw.body).toMatchObject({ prompt: "def f(", suffix: "\n" });
    expect(code(() => ollamaGenerateToOpenAi({ model: "m", prompt: "x", suffix: "y" }))?.param).toBe("suffix");
  });

  it("embed takes input (string or list), embeddings takes prompt", () => {
    expect(ollamaEmbedToOpenAi({ model: "e", input: "a" }, false)).toEqual({ model: "e", input: ["a"] });
    expect(ollamaEmbedToOpenAi({ model: "e", input: ["a", "b"] }, false).input).toEqual(["a", "b"]);
    expect(ollamaEmbedToOpenAi({ model: "e", prompt: "p" }, true).input).toEqual(["p"]);
    expect(code(() => ollamaEmbedToOpenAi({ model: "e", input: [] }, false))?.param).toBe("input");
  });
});

describe("Ollama response shapes", () => {
  const entry: ModelEntry = {
    name: "stories", kind: "llm", format: "gguf", file: "stories.gguf", sha256: "ab".repeat(32), size: 1185376, architecture: "llama",
    parameters: 1_170_000, quantization: "F32", contextLength: 2048, license: null, addedAt: "2026-12-01T00:00:00.000Z",
  };
  it("lists models with Ollama's details", () => {
    expect(tagsBody([entry]).models[0]).toEqual({
      name: "stories", model: "stories", modified_at: entry.addedAt, size: 1185376, digest: entry.sha256,
      details: { parent_model: "", format: "gguf", family: "llama", families: ["llama"], parameter_size: "1.2M", quantization_level: "F32" },
    });
    expect(humanParameters(1_100_000_000)).toBe("1.1B");
  });
  it("reports durations in nanoseconds and the stop reason", () => {
    const s = doneStats({
      model: "m", text: "", finishReason: "length", promptTokens: 5, completionTokens: 7, reusedPromptTokens: 0,
      timings: { queuedMs: 1, loadMs: 2, firstTokenMs: 3, totalMs: 10, tokensPerSecond: 1 },
    });
    // totalMs (10) holds the queue (1), the load (2) and the prompt (3): the tokens took the other 4.
    expect(s).toEqual({ done_reason: "length", total_duration: 10e6, load_duration: 2e6, prompt_eval_count: 5, prompt_eval_duration: 3e6, eval_count: 7, eval_duration: 4e6 });
    // No token at all: the whole run was the prompt.
    const none = doneStats({ model: "m", text: "", finishReason: "stop", promptTokens: 5, completionTokens: 0, reusedPromptTokens: 0, timings: { queuedMs: 1, loadMs: 2, firstTokenMs: null, totalMs: 10, tokensPerSecond: null } });
    expect(none).toMatchObject({ total_duration: 10e6, prompt_eval_duration: 7e6, eval_duration: 0 });
  });
  it("gives tool-call arguments back as objects", () => {
    expect(ollamaToolCalls([{ function: { name: "f", arguments: '{"x":1}' } }])).toEqual([{ function: { name: "f", arguments: { x: 1 } } }]);
    expect(ollamaToolCalls([])).toBeUndefined();
  });
});
