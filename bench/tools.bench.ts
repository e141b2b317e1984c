// `npm run bench tools`: what function calling costs. Time to a parsed tool call (tool_choice naming a function, through
// POST /v1/chat/completions with the openai SDK, arguments JSON.parse'd) against a plain answer of the same number of
// tokens from the same prompt (tool_choice "none": the tools are still documented, so the prompt is the same), rounds
// interleaved so both see the same machine load; medians and their ratio, and the per-token cost of each.
// The model is the generated tiny llama with Qwen2.5's tool-calling chat template (the only template-carrying model
// available offline), so token costs are small and the fixed costs of function calling (grammars, the forcing chat)
// weigh more than they would on a real model.
import { loadavg } from "node:os";
import { startInferenceApp } from "../test/integration/inferenceFixtures.js";
import { toolModel } from "../test/integration/inferenceToolsFixtures.js";
import { engineFactsOf, writeResult } from "./lib/writeResult.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const log = (s: string) => process.stdout.write(`${s}\n`);
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

const tools = [
  {
    type: "function" as const,
    function: {
      name: "get_weather", description: "The weather in a city",
      parameters: { type: "object", properties: { city: { type: "string", enum: ["Paris", "Oslo", "Lima"] }, metric: { type: "boolean" } }, required: ["city", "metric"] },
    },
  },
  { type: "function" as const, function: { name: "get_time", description: "The local time in a zone", parameters: { type: "object", properties: { zone: { type: "string", enum: ["UTC", "CET"] } }, required: ["zone"] } } },
];

const t = await startInferenceApp({ "tuning.parallelSequences": 1, "tuning.contextSize": 2048, "log.level": "silent" }, { install: false });
try {
  await t.app.inference.registry.add(toolModel(), { name: "qwen-tools" });
  const messages = [{ role: "user" as const, content: "What is the weather in Paris?" }];
  const call = async (seed: number) => {
    const start = performance.now();
    const r = await t.client.chat.completions.create({ model: "qwen-tools", messages, tools, tool_choice: { type: "function", function: { name: "get_weather" } }, max_tokens: 100, temperature: 0.7, seed });
    const c = r.choices[0]!.message.tool_calls?.[0];
    if (!c || c.type !== "function") throw new Error(`no tool call: ${JSON.stringify(r.choices[0])}`);
    JSON.parse(c.function.arguments);
    return { ms: performance.now() - start, tokens: r.usage!.completion_tokens };
  };
  const plain = async (maxTokens: number) => {
    const start = performance.now();
    const r = await t.client.chat.completions.create({ model: "qwen-tools", messages, tools, tool_choice: "none", max_tokens: maxTokens, temperature: 0.7, seed: 1 });
    return { ms: performance.now() - start, tokens: r.usage!.completion_tokens };
  };
  // Warm: the runner loaded, the prompt in the KV cache, grammars built.
  await call(0);
  await plain(8);
  const loadBefore = loadavg()[0]!;
  const toolMs: number[] = [];
  const plainMs: number[] = [];
  const tokens: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const a = await call(i + 1);
    const b = await plain(a.tokens);
    if (b.tokens !== a.tokens) throw new Error(`round ${i}: the plain answer has ${b.tokens} tokens, the call ${a.tokens}`);
    toolMs.push(a.ms);
    plainMs.push(b.ms);
    tokens.push(a.tokens);
  }
  const perToken = (ms: number[]) => median(ms.map((x, i) => x / tokens[i]!));
  const results = {
    rounds: ROUNDS,
    toolCallMedianMs: Number(median(toolMs).toFixed(1)),
    plainMedianMs: Number(median(plainMs).toFixed(1)),
    toolOverRatio: Number((median(toolMs.map((x, i) => x / plainMs[i]!))).toFixed(2)),
    toolMsPerTokenMedian: Number(perToken(toolMs).toFixed(2)),
    plainMsPerTokenMedian: Number(perToken(plainMs).toFixed(2)),
    completionTokens: tokens,
    toolCallMs: toolMs.map((x) => Number(x.toFixed(1))),
    plainMs: plainMs.map((x) => Number(x.toFixed(1))),
    loadAverage1m: { before: Number(loadBefore.toFixed(2)), after: Number(loadavg()[0]!.toFixed(2)) },
    note: "request to parsed tool call (named tool, non-streaming, openai SDK) vs a plain answer of the same completion tokens from the same prompt (tool_choice none), interleaved; generated tiny llama with Qwen2.5's tool template, random weights",
  };
  log(`tools: call ${results.toolCallMedianMs} ms vs plain ${results.plainMedianMs} ms for the same tokens (median ratio ${results.toolOverRatio}); per token ${results.toolMsPerTokenMedian} vs ${results.plainMsPerTokenMedian} ms`);
  writeResult("tools", results, engineFactsOf(t.app as never));
} finally {
  await t.close();
}
