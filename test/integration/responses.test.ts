import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type OpenAI from "openai";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";
import { toolModel } from "./inferenceToolsFixtures.js";

/*
 * OpenAI's Responses API (/v1/responses) through the official openai SDK, against the real app and runners: the
 * generated tiny llama for text, and the same weights with a Qwen2.5 tool-calling template for function calls.
 */

const weather: OpenAI.Responses.FunctionTool = {
  type: "function",
  name: "get_weather",
  description: "The weather in a city",
  strict: true,
  parameters: {
    type: "object",
    properties: { city: { type: "string", enum: ["Paris", "Oslo", "Lima"] }, metric: { type: "boolean" } },
    required: ["city", "metric"],
    additionalProperties: false,
  },
};

describe("the Responses API through the openai SDK", () => {
  let t: InferenceTestApp;
  beforeAll(async () => {
    t = await startInferenceApp({ "inference.maxTokensDefault": 16, "tuning.contextSize": 2048 });
    await t.app.inference.registry.add(toolModel(), { name: "qwen-tools" });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("answers a string input with a message item whose text is what chat completions gives for the same turn", async () => {
    const r = await t.client.responses.create({ model: "tiny", input: "Once upon a time", max_output_tokens: 8, temperature: 0 });
    expect(r.object).toBe("response");
    expect(r.id).toMatch(/^resp_[0-9a-f]{24}$/);
    expect(r.model).toBe("tiny");
    expect((r as unknown as { store: boolean }).store).toBe(false);
    expect(r.max_output_tokens).toBe(8);
    expect(r.temperature).toBe(0);
    expect(r.output).toHaveLength(1);
    const item = r.output[0] as OpenAI.Responses.ResponseOutputMessage;
    expect(item).toMatchObject({ type: "message", role: "assistant", id: expect.stringMatching(/^msg_/) });
    expect(r.output_text.length).toBeGreaterThan(0);
    expect(r.usage!.output_tokens).toBeGreaterThan(0);
    expect(r.usage!.output_tokens).toBeLessThanOrEqual(8);
    expect(r.usage!.total_tokens).toBe(r.usage!.input_tokens + r.usage!.output_tokens);
    // Stopped by max_output_tokens: incomplete, and it says why.
    if (r.usage!.output_tokens === 8) expect(r).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
    else expect(r.status).toBe("completed");
    const chat = await t.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 8, temperature: 0 });
    expect(r.output_text).toBe(chat.choices[0]!.message.content);
  });

  it("streams typed events in order, whose deltas add up to the final text", async () => {
    const stream = await t.client.responses.create({ model: "tiny", instructions: "Tell a story.", input: [{ role: "user", content: [{ type: "input_text", text: "A cat" }] }], max_output_tokens: 10, temperature: 0, stream: true });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    const types = events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]);
    expect(types.slice(-4)).toEqual(["response.output_text.done", "response.content_part.done", "response.output_item.done", expect.stringMatching(/^response\.(completed|incomplete)$/)]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_e, i) => i));
    const deltas = events.filter((e): e is OpenAI.Responses.ResponseTextDeltaEvent => e.type === "response.output_text.delta").map((e) => e.delta).join("");
    const last = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(deltas.length).toBeGreaterThan(0);
    expect((last.response.output[0] as OpenAI.Responses.ResponseOutputMessage).content[0]).toMatchObject({ type: "output_text", text: deltas });
    expect(last.response.instructions).toBe("Tell a story.");
    // The same turn without streaming: the instructions are the system message.
    const full = await t.client.responses.create({ model: "tiny", instructions: "Tell a story.", input: [{ role: "user", content: "A cat" }], max_output_tokens: 10, temperature: 0 });
    expect(full.output_text).toBe(deltas);
  });

  it("calls a function, and takes the call and its output back as input items", async () => {
    const r = await t.client.responses.create({ model: "qwen-tools", input: "What is the weather in Paris?", tools: [weather], tool_choice: "required", parallel_tool_calls: false, temperature: 0.7, max_output_tokens: 200 });
    const calls = r.output.filter((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === "function_call");
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(call).toMatchObject({ name: "get_weather", status: "completed", id: expect.stringMatching(/^fc_/), call_id: expect.stringMatching(/^call_/) });
    const args = JSON.parse(call.arguments) as Record<string, unknown>;
    expect(["Paris", "Oslo", "Lima"]).toContain(args.city);
    expect(typeof args.metric).toBe("boolean");
    const next = await t.client.responses.create({
      model: "qwen-tools", tools: [weather], tool_choice: "none", max_output_tokens: 6, temperature: 0,
      input: [{ role: "user", content: "What is the weather in Paris?" }, call, { type: "function_call_output", call_id: call.call_id, output: "{\"sky\":\"clear\"}" }],
    });
    expect(next.output.map((o) => o.type)).toEqual(["message"]);
    expect(next.usage!.input_tokens).toBeGreaterThan(r.usage!.input_tokens);
  });

  it("streams a function call as an item with argument deltas, done with the parsed arguments", async () => {
    const stream = await t.client.responses.create({ model: "qwen-tools", input: "Weather in Oslo?", tools: [weather], tool_choice: { type: "function", name: "get_weather" }, temperature: 0.7, max_output_tokens: 200, stream: true });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    const added = events.find((e): e is OpenAI.Responses.ResponseOutputItemAddedEvent => e.type === "response.output_item.added" && e.item.type === "function_call");
    expect(added?.item).toMatchObject({ type: "function_call", name: "get_weather" });
    const pieces = events.filter((e): e is OpenAI.Responses.ResponseFunctionCallArgumentsDeltaEvent => e.type === "response.function_call_arguments.delta").map((e) => e.delta).join("");
    const done = events.find((e): e is OpenAI.Responses.ResponseFunctionCallArgumentsDoneEvent => e.type === "response.function_call_arguments.done");
    expect(JSON.parse(done!.arguments)).toEqual(JSON.parse(pieces));
    expect(events.at(-1)?.type).toBe("response.completed");
  });

  it("refuses what it cannot honour by name, in OpenAI's error shape, and keeps serving", async () => {
    const refused = async (body: Record<string, unknown>, param: string, pattern: RegExp) => {
      const res = await t.call("/v1/responses", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "tiny", input: "hi", ...body }) });
      expect(res.status, param).toBe(400);
      const e = ((await res.json()) as { error: { param: string; message: string; type: string } }).error;
      expect(e).toMatchObject({ param, type: "invalid_request_error" });
      expect(e.message).toMatch(pattern);
    };
    await refused({ previous_response_id: "resp_1" }, "previous_response_id", /does not store responses/);
    await refused({ input: [{ role: "user", content: [{ type: "input_image", image_url: "data:," }] }] }, "input[0].content[0]", /text models only/);
    await refused({ tools: [{ type: "web_search" }] }, "tools[0].type", /web_search is not offered/);
    await refused({ input: [{ type: "function_call_output", call_id: "call_x", output: "1" }] }, "input[0].call_id", /No function_call item/);
    await refused({ input: [] }, "input", /non-empty/);
    await refused({ text: { format: { type: "json_schema", name: "x" } } }, "text.format.schema", /JSON schema/);
    await refused({ temperature: "hot" }, "temperature", /number/);
    for (const [path, method] of [["/v1/responses/resp_123", "GET"], ["/v1/responses/resp_123", "DELETE"], ["/v1/responses/resp_123/input_items", "GET"], ["/v1/responses/resp_123/cancel", "POST"]] as const) {
      const stored = await t.call(path, { method });
      expect(stored.status, `${method} ${path}`).toBe(404);
      expect(await stored.json()).toMatchObject({ error: { code: "response_not_stored", message: expect.stringContaining("resp_123") } });
    }
    const anonymous = await fetch(`${t.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "tiny", input: "hi" }) });
    expect(anonymous.status).toBe(401);
    const ok = await t.client.responses.create({ model: "tiny", input: "hi", max_output_tokens: 2, text: { format: { type: "json_object" } } });
    expect(ok.text?.format).toEqual({ type: "json_object" });
    expect(ok.output_text.startsWith("{")).toBe(true);
  });
});
