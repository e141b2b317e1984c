import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type OpenAI from "openai";
import { Ollama } from "ollama";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";
import { toolModel } from "./inferenceToolsFixtures.js";
import { listenExtra, type ExtraListener } from "../../appliance/extraListener.js";
import { LlamaJsonSchemaValidationError } from "node-llama-cpp";
import { toolCallFailure } from "../../services/inference/toolCalling.js";
import { SovereignError } from "../../core/errors/SovereignError.js";

/*
 * Function calling through the official openai SDK and the ollama client,
 * against the real app with runners. The model is the generated tiny llama
 * (random weights) carrying a Qwen2.5 tool-calling chat template: its output is
 * noise, so every call that parses and matches its schema here does so because
 * the grammars built from the template and the schemas forced it. Schemas use
 * enums, booleans and bounded strings so that noise cannot run a value to max_tokens.
 */

const weather = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", enum: ["Paris", "Oslo", "Lima"] }, metric: { type: "boolean" } },
      required: ["city", "metric"],
      additionalProperties: false,
    },
  },
};
const time = {
  type: "function" as const,
  function: {
    name: "get_time",
    description: "The local time in a zone",
    parameters: { type: "object", properties: { zone: { type: "string", enum: ["UTC", "CET"] } }, required: ["zone"] },
  },
};
const tools = [weather, time];

/** The arguments parse as JSON and match the function's schema (the enum, the type and the required keys). */
function expectValidArguments(call: { function: { name: string; arguments: string } }): Record<string, unknown> {
  const args = JSON.parse(call.function.arguments) as Record<string, unknown>;
  if (call.function.name === "get_weather") {
    expect(Object.keys(args).sort()).toEqual(["city", "metric"]);
    expect(["Paris", "Oslo", "Lima"]).toContain(args.city);
    expect(typeof args.metric).toBe("boolean");
  } else {
    expect(call.function.name).toBe("get_time");
    expect(Object.keys(args)).toEqual(["zone"]);
    expect(["UTC", "CET"]).toContain(args.zone);
  }
  return args;
}

describe("a call node-llama-cpp's schema check refuses", () => {
  it("is TOOL_CALL_INVALID (502) naming the model; other errors pass through unchanged", () => {
    // What node-llama-cpp throws when a grammar-valid integer of hundreds of digits parses as Infinity.
    const e = toolCallFailure("qwen-tools", new LlamaJsonSchemaValidationError("Expected type \"integer\" but got \"number\"", { n: Infinity }, { type: "integer" }));
    expect(e).toBeInstanceOf(SovereignError);
    expect((e as SovereignError).code).toBe("TOOL_CALL_INVALID");
    expect((e as SovereignError).status).toBe(502);
    expect((e as SovereignError).message).toContain("\"qwen-tools\"");
    const other = new Error("disk on fire");
    expect(toolCallFailure("qwen-tools", other)).toBe(other);
  });
});

describe("function calling (tools) through the openai SDK", () => {
  let t: InferenceTestApp;
  let listener: ExtraListener;
  beforeAll(async () => {
    t = await startInferenceApp({ "inference.maxTokensDefault": 96, "tuning.contextSize": 2048 });
    await t.app.inference.registry.add(toolModel(), { name: "qwen-tools" });
    listener = await listenExtra(t.app, { host: "127.0.0.1", port: 0, prefix: "/ollama" });
  });
  afterAll(async () => {
    await listener?.close();
    await t?.close();
  });

  const ask = (body: Partial<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming>) =>
    t.client.chat.completions.create({ model: "qwen-tools", messages: [{ role: "user", content: "What is the weather in Paris?" }], temperature: 0.7, seed: 3, max_tokens: 200, ...body });

  it("tool_choice required: one call with an id, a JSON arguments string matching the schema, finish_reason tool_calls", async () => {
    const r = await ask({ tools, tool_choice: "required", parallel_tool_calls: false });
    const choice = r.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls![0]! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    expect(call.type).toBe("function");
    expect(call.id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(["get_weather", "get_time"]).toContain(call.function.name);
    expectValidArguments(call);
    expect(r.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it("a named tool is the one called, though both are offered", async () => {
    for (const seed of [1, 2, 3]) {
      const r = await ask({ tools, tool_choice: { type: "function", function: { name: "get_time" } }, seed });
      const calls = r.choices[0]!.message.tool_calls as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
      expect(calls).toHaveLength(1);
      expect(calls[0]!.function.name).toBe("get_time");
      expectValidArguments(calls[0]!);
      expect(r.choices[0]!.finish_reason).toBe("tool_calls");
    }
  });

  it("a function without parameters (absent or an empty schema) is called with arguments \"{}\"", async () => {
    for (const parameters of [undefined, {}]) {
      const ping = { type: "function" as const, function: { name: "ping", ...(parameters ? { parameters } : {}) } };
      const r = await ask({ tools: [...tools, ping], tool_choice: { type: "function", function: { name: "ping" } } });
      const calls = r.choices[0]!.message.tool_calls as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
      expect(calls.map((c) => [c.function.name, c.function.arguments])).toEqual([["ping", "{}"]]);
    }
  });

  it("parallel calls: several calls in one answer, each with its own id and valid arguments", async () => {
    const r = await ask({ tools, tool_choice: "required", max_tokens: 120 });
    const choice = r.choices[0]!;
    const calls = choice.message.tool_calls as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
    // Noise rarely writes the section's end, so the calls go on until max_tokens; those completed come back.
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(new Set(calls.map((c) => c.id)).size).toBe(calls.length);
    for (const c of calls) expectValidArguments(c);
    expect(["tool_calls", "length"]).toContain(choice.finish_reason);
  });

  it("a two-step loop: call → tool result in the history → an answer in text", async () => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: "user", content: "What is the weather in Oslo?" }];
    const first = await t.client.chat.completions.create({ model: "qwen-tools", messages, tools, tool_choice: "required", parallel_tool_calls: false, max_tokens: 100, seed: 5 });
    const msg = first.choices[0]!.message;
    const call = msg.tool_calls![0]! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    expectValidArguments(call);
    messages.push(msg, { role: "tool", tool_call_id: call.id, content: JSON.stringify({ temperature: 4, sky: "clear" }) });
    // The tool's result is in the prompt: it is longer than the first one by at least the result's tokens.
    const second = await t.client.chat.completions.create({ model: "qwen-tools", messages, tools, tool_choice: "none", max_tokens: 8, temperature: 0 });
    expect(second.choices[0]!.message.tool_calls ?? []).toHaveLength(0);
    expect(second.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(second.choices[0]!.finish_reason).toBe("length");
    expect(second.usage!.prompt_tokens).toBeGreaterThan(first.usage!.prompt_tokens + 5);
    // tool_choice auto after the results: the answer is text or calls, never a broken call.
    const third = await t.client.chat.completions.create({ model: "qwen-tools", messages, tools, max_tokens: 60, temperature: 0 });
    for (const c of (third.choices[0]!.message.tool_calls ?? []) as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[]) expectValidArguments(c);
  });

  it("streams tool_calls deltas in OpenAI's chunk format; the accumulated calls parse and match", async () => {
    const stream = await t.client.chat.completions.create({
      model: "qwen-tools", messages: [{ role: "user", content: "Weather in Lima?" }], tools, tool_choice: "required", max_tokens: 150, seed: 9, stream: true,
    });
    const deltas: OpenAI.Chat.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    const finishes: (string | null)[] = [];
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        finishes.push(c.finish_reason);
        for (const d of c.delta.tool_calls ?? []) deltas.push(d);
      }
    }
    // The first delta of each call has index, id, type, name and arguments ""; later ones only add arguments.
    const firsts = deltas.filter((d) => d.id !== undefined);
    expect(firsts.length).toBeGreaterThanOrEqual(1);
    for (const f of firsts) {
      expect(f.type).toBe("function");
      expect(f.id).toMatch(/^call_/);
      expect(f.function?.arguments).toBe("");
      expect(["get_weather", "get_time"]).toContain(f.function?.name);
    }
    expect(deltas.filter((d) => d.id === undefined).every((d) => d.function?.name === undefined && typeof d.function?.arguments === "string")).toBe(true);
    expect(["tool_calls", "length"]).toContain(finishes.filter((f) => f !== null).at(-1));
    // Accumulated by index, as clients do: each call's arguments parse and match the schema.
    const byIndex = new Map<number, { function: { name: string; arguments: string } }>();
    for (const d of deltas) {
      const acc = byIndex.get(d.index) ?? { function: { name: "", arguments: "" } };
      if (d.function?.name) acc.function.name = d.function.name;
      acc.function.arguments += d.function?.arguments ?? "";
      byIndex.set(d.index, acc);
    }
    const completed = [...byIndex.values()].filter((c) => { try { JSON.parse(c.function.arguments); return true; } catch { return false; } });
    expect(completed.length).toBeGreaterThanOrEqual(1);
    for (const c of completed) expectValidArguments(c);
  });

  it("the SDK's stream helper assembles the same calls as the non-streamed answer", async () => {
    const body = { model: "qwen-tools", messages: [{ role: "user" as const, content: "Time?" }], tools, tool_choice: "required" as const, parallel_tool_calls: false, max_tokens: 100, temperature: 0 };
    const whole = await t.client.chat.completions.create(body);
    const runner = t.client.chat.completions.stream(body);
    const final = await runner.finalChatCompletion();
    const a = whole.choices[0]!.message.tool_calls as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
    const b = final.choices[0]!.message.tool_calls as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
    expect(b.map((c) => [c.function.name, c.function.arguments])).toEqual(a.map((c) => [c.function.name, c.function.arguments]));
    expect(final.choices[0]!.finish_reason).toBe("tool_calls");
    expectValidArguments(b[0]!);
  });

  it("refuses tools on a model whose GGUF has no chat template (TOOLS_UNSUPPORTED names it), and bad tool requests by name", async () => {
    const r = await t.call("/v1/chat/completions", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], tools, tool_choice: "required" }),
    });
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: { code: string; message: string; param: string } };
    expect(body.error.code).toBe("tools_unsupported");
    expect(body.error.message).toContain("\"tiny\"");
    // tool_choice "none" on that model is plain generation, not an error.
    const none = await t.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }], tools, tool_choice: "none", max_tokens: 3, temperature: 0 });
    expect(none.choices[0]!.finish_reason).toBe("length");

    const send = (extra: object) => t.call("/v1/chat/completions", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "qwen-tools", messages: [{ role: "user", content: "hi" }], max_tokens: 4, ...extra }),
    });
    const cases: [object, string][] = [
      [{ tools: [{ type: "retrieval" }] }, "tools[0].type"],
      [{ tools: [{ type: "function", function: { name: "bad name!" } }] }, "tools[0].function.name"],
      [{ tools, tool_choice: { type: "function", function: { name: "nope" } } }, "tool_choice"],
      [{ tool_choice: "required" }, "tool_choice"],
      [{ tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: { n: { type: "integer", minimum: 1 } } } } }] }, "tools[0].function.parameters"],
      [{ tools, response_format: { type: "json_object" } }, "response_format"],
      [{ tools: [{ type: "function", function: { name: "f", parameters: { type: "string" } } }] }, "tools[0].function.parameters"],
      [{ messages: [{ role: "tool", tool_call_id: "call_x", content: "4" }] }, "messages[0].tool_call_id"],
      [{ messages: [{ role: "user", content: "hi" }, { role: "assistant", content: null, tool_calls: [{ id: "call_a", type: "function", function: { name: "get_time", arguments: "{}" } }] }, { role: "user", content: "and?" }] }, "messages[2]"],
      [{ messages: [{ role: "assistant", content: null, tool_calls: [{ id: "call_a", type: "function", function: { name: "get_time", arguments: "{oops" } }] }] }, "messages[0].tool_calls[0].function.arguments"],
    ];
    for (const [extra, param] of cases) {
      const res = await send(extra);
      expect(res.status, JSON.stringify(extra)).toBe(400);
      expect(((await res.json()) as { error: { param: string } }).error.param, JSON.stringify(extra)).toBe(param);
    }
  });

  it("Ollama's /api/chat with tools, through the ollama client: tool_calls with arguments as an object, and the result back in the history", async () => {
    const ollama = new Ollama({ host: listener.url, headers: { Authorization: `Bearer ${t.key}` } });
    const ollamaTools = tools.map((x) => ({ type: "function", function: { ...x.function } }));
    // Ollama has no tool_choice (the model decides; noise rarely writes "<tool_call>"): the node's extension field forces a call.
    const r = await ollama.chat({
      model: "qwen-tools", messages: [{ role: "user", content: "Weather in Paris?" }], tools: ollamaTools, stream: false,
      options: { num_predict: 100, temperature: 0 }, ...({ tool_choice: { type: "function", function: { name: "get_weather" } } } as object),
    });
    expect(r.done).toBe(true);
    expect(r.message.tool_calls).toHaveLength(1);
    const call = r.message.tool_calls![0]!;
    expect(call.function.name).toBe("get_weather");
    // Ollama's shape: arguments is an object, not a JSON string.
    expect(typeof call.function.arguments).toBe("object");
    expectValidArguments({ function: { name: call.function.name, arguments: JSON.stringify(call.function.arguments) } });
    // Streamed: the calls come in the stream too, with the same arguments.
    const streamed: NonNullable<typeof r.message.tool_calls> = [];
    for await (const part of await ollama.chat({
      model: "qwen-tools", messages: [{ role: "user", content: "Weather in Paris?" }], tools: ollamaTools, stream: true,
      options: { num_predict: 100, temperature: 0 }, ...({ tool_choice: { type: "function", function: { name: "get_weather" } } } as object),
    })) streamed.push(...(part.message.tool_calls ?? []));
    expect(streamed.map((c) => c.function)).toEqual([call.function]);
    // A call and its result in Ollama's history shape (tool_name, arguments as an object) reach the template.
    const withResult = await ollama.chat({
      model: "qwen-tools", stream: false, tools: ollamaTools, options: { num_predict: 4, temperature: 0 },
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: "", tool_calls: [{ function: { name: "get_weather", arguments: { city: "Paris", metric: true } } }] },
        { role: "tool", content: "{\"temperature\": 12}", tool_name: "get_weather" },
      ],
    });
    expect(withResult.done).toBe(true);
    expect(withResult.prompt_eval_count).toBeGreaterThan(r.prompt_eval_count);
    // And on a model without a template, Ollama's route gives the same coded refusal.
    await expect(ollama.chat({ model: "tiny", messages: [{ role: "user", content: "hi" }], tools: ollamaTools, stream: false })).rejects.toThrow(/cannot call functions/);
  });
});
