// `npm run bench ollama`: tokens/s through Ollama's /api/chat (NDJSON, the node's Ollama listener) ÷ tokens/s through
// OpenAI's /v1/chat/completions (SSE), the same prompt, model and sampling, streamed over HTTP with an API key,
// requests interleaved OpenAI/Ollama/OpenAI (rotated) so all see the same machine load; per model, the median of the
// per-round ratios, beside an A/A control (the second OpenAI request over the first) that shows the noise floor.
// Generation tokens/s = (tokens - 1) / (last chunk - first chunk); end to end = tokens / (request to last byte).
// Models: TinyLlama 1.1B's shape (Q4_0, a real model's per-token cost) and the tiny test llama (per-token cost so small
// that the routes' own per-chunk work shows). Target: ratio ≥ 0.97.
import { loadavg } from "node:os";
import { testLlamaModel } from "../test/models/testModelCache.js";
import { startInferenceApp, type InferenceTestApp } from "../test/integration/inferenceFixtures.js";
import { listenExtra } from "../appliance/extraListener.js";
import { engineFactsOf, writeResult } from "./lib/writeResult.js";

const log = (s: string) => process.stdout.write(`${s}\n`);
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

interface Run { tokens: number; genTps: number; e2eTps: number; cpuUsPerToken: number }

/** Streams one request; `count` tells from a line/event whether it carried a token piece, and the final token count. */
async function timed(t: InferenceTestApp, url: string, body: object, parse: (line: string) => { piece: boolean; tokens?: number }, sep: string): Promise<Run> {
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${t.key}` }, body: JSON.stringify(body) });
  if (res.status !== 200 || !res.body) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffer = "";
  let first: number | null = null;
  let last = 0;
  let tokens = 0;
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let i: number;
    while ((i = buffer.indexOf(sep)) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + sep.length);
      if (!line.trim()) continue;
      const p = parse(line);
      if (p.piece) {
        first ??= performance.now();
        last = performance.now();
      }
      if (p.tokens !== undefined) tokens = p.tokens;
    }
  }
  const end = performance.now();
  const cpu = process.cpuUsage(cpu0);
  if (first === null || tokens < 2) throw new Error(`${url}: no tokens`);
  return { tokens, genTps: ((tokens - 1) * 1000) / (last - first), e2eTps: (tokens * 1000) / (end - start), cpuUsPerToken: (cpu.user + cpu.system) / tokens };
}

const openAiLine = (line: string) => {
  const data = line.replace(/^data: /, "");
  if (data === "[DONE]") return { piece: false };
  const j = JSON.parse(data) as { choices: { delta?: { content?: string } }[]; usage?: { completion_tokens: number } };
  return { piece: Boolean(j.choices[0]?.delta?.content), ...(j.usage ? { tokens: j.usage.completion_tokens } : {}) };
};
const ollamaLine = (line: string) => {
  const j = JSON.parse(line) as { message?: { content?: string }; done: boolean; eval_count?: number };
  return { piece: !j.done && Boolean(j.message?.content), ...(j.done ? { tokens: j.eval_count ?? 0 } : {}) };
};

const t = await startInferenceApp({ "tuning.parallelSequences": 1, "tuning.contextSize": 1024, "log.level": "silent" }, { install: false });
const listener = await listenExtra(t.app, { host: "127.0.0.1", port: 0, prefix: "/ollama" });
const results: Record<string, unknown> = {};
try {
  const models: [string, string, number, number][] = [
    ["tinyllama-1.1b-q4_0", testLlamaModel("tinyllama-1.1b", "Q4_0"), Number(process.env.BENCH_ROUNDS_BIG ?? 16), 24],
    ["tiny-f32", testLlamaModel("tiny", "F32"), Number(process.env.BENCH_ROUNDS ?? 25), 200],
  ];
  for (const [name, path, rounds, tokens] of models) {
    await t.app.inference.registry.add(path, { name });
    const messages = [{ role: "user", content: "Once upon a time there was a" }];
    const openAi = () => timed(t, `${t.url}/v1/chat/completions`, { model: name, messages, max_tokens: tokens, temperature: 0, seed: 1, stream: true, stream_options: { include_usage: true } }, openAiLine, "\n\n");
    const ollama = () => timed(t, `${listener.url}/api/chat`, { model: name, messages, stream: true, options: { num_predict: tokens, temperature: 0, seed: 1 } }, ollamaLine, "\n");
    await openAi();
    await ollama();
    const loadBefore = loadavg()[0]!;
    const o: Run[] = [];
    const l: Run[] = [];
    // A/A control: a second OpenAI request in the same rounds; its ratio to the first shows what noise alone gives.
    const c: Run[] = [];
    const arms: [Run[], () => Promise<Run>][] = [[o, openAi], [l, ollama], [c, openAi]];
    for (let i = 0; i < rounds; i++) {
      // Rotate the order, so no arm always follows another.
      for (let k = 0; k < arms.length; k++) {
        const [out, run] = arms[(i + k) % arms.length]!;
        out.push(await run());
      }
    }
    const ratio = median(l.map((x, i) => x.genTps / o[i]!.genTps));
    const e2eRatio = median(l.map((x, i) => x.e2eTps / o[i]!.e2eTps));
    const control = median(c.map((x, i) => x.genTps / o[i]!.genTps));
    results[name] = {
      rounds, maxTokens: tokens,
      ollamaOverOpenAiGenTps: Number(ratio.toFixed(3)),
      ollamaOverOpenAiE2eTps: Number(e2eRatio.toFixed(3)),
      controlOpenAiOverOpenAiGenTps: Number(control.toFixed(3)),
      // CPU time of this process (the node's HTTP, chat and route work, and this client's parsing; llama.cpp runs in the runner) per token: not wall-clock, so far less noisy.
      nodeCpuUsPerTokenMedian: { openAi: Number(median(o.map((x) => x.cpuUsPerToken)).toFixed(1)), ollama: Number(median(l.map((x) => x.cpuUsPerToken)).toFixed(1)), control: Number(median(c.map((x) => x.cpuUsPerToken)).toFixed(1)) },
      openAiGenTpsMedian: Number(median(o.map((x) => x.genTps)).toFixed(1)),
      ollamaGenTpsMedian: Number(median(l.map((x) => x.genTps)).toFixed(1)),
      openAiGenTps: o.map((x) => Number(x.genTps.toFixed(1))),
      ollamaGenTps: l.map((x) => Number(x.genTps.toFixed(1))),
      tokens: { openAi: o.map((x) => x.tokens), ollama: l.map((x) => x.tokens) },
      loadAverage1m: { before: Number(loadBefore.toFixed(2)), after: Number(loadavg()[0]!.toFixed(2)) },
    };
    log(`ollama/openai ${name}: gen tok/s ratio ${ratio.toFixed(3)} (ollama ${median(l.map((x) => x.genTps)).toFixed(1)} vs openai ${median(o.map((x) => x.genTps)).toFixed(1)}), end-to-end ${e2eRatio.toFixed(3)}; A/A control openai/openai ${control.toFixed(3)}; node CPU µs/token openai ${median(o.map((x) => x.cpuUsPerToken)).toFixed(0)}, ollama ${median(l.map((x) => x.cpuUsPerToken)).toFixed(0)}`);
    await t.app.inference.unload();
  }
  results.note = "streamed over loopback HTTP with an API key; OpenAI SSE on /v1/chat/completions vs Ollama NDJSON on the Ollama listener's /api/chat; both go through the chat service; per-round ratios, median";
  writeResult("ollama", results, engineFactsOf(t.app as never));
} finally {
  await listener.close();
  await t.close();
}
