// `npm run bench inference`: llama-bench vs node-llama-cpp in-process vs our HTTP API on a
// TinyLlama-1.1B-shaped random-weight Q4_0 model, second-turn TTFT with prefix reuse,
// embeddings/s and peak RSS. BENCH_THREADS (default 2) sets the thread count for all of them.
// llama-bench is built offline from node-llama-cpp's bundled llama.cpp source (see
// bench/README or the report): .cache/llama-src/build/bin/llama-bench; absent → that row is skipped.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, type Token } from "node-llama-cpp";
import { writeResult } from "./lib/writeResult.js";
import { testEmbedderDir, testLlamaModel } from "../services/inference/testModels/testModelCache.js";
import { OnnxEmbedder } from "../services/inference/embeddings/OnnxEmbedder.js";
import { buildApp } from "../appliance/app.js";
import { resolveConfig } from "../appliance/config/resolveConfig.js";
import { detectHardware } from "../hardware/detectHardware.js";
import { tuneForConfig } from "../hardware/tuneForConfig.js";

const threads = Number(process.env.BENCH_THREADS ?? 2);
const PP = 128;
const TG = 64;
const log = (s: string) => process.stdout.write(`${s}\n`);
const results: Record<string, unknown> = { threads, pp: PP, tg: TG };

const t0 = Date.now();
const modelPath = testLlamaModel("tinyllama-1.1b", "Q4_0");
const fileBytes = statSync(modelPath).size;
log(`model ${modelPath} (${(fileBytes / 1e6).toFixed(0)} MB, ready in ${((Date.now() - t0) / 1000).toFixed(1)} s), threads ${threads}`);
results.modelFileBytes = fileBytes;

// 1. llama-bench, the reference.
const benchBin = join(import.meta.dirname, "..", ".cache", "llama-src", "build", "bin", "llama-bench");
if (existsSync(benchBin)) {
  const out = execFileSync(benchBin, ["-m", modelPath, "-t", String(threads), "-p", String(PP), "-n", String(TG), "-r", "3", "-o", "json"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const rows = JSON.parse(out) as Array<{ n_prompt: number; n_gen: number; avg_ts: number }>;
  results.llamaBench = { pp: rows.find((r) => r.n_prompt > 0)?.avg_ts, tg: rows.find((r) => r.n_gen > 0)?.avg_ts };
  log(`llama-bench: pp${PP} ${(results.llamaBench as { pp: number }).pp.toFixed(1)} t/s, tg${TG} ${(results.llamaBench as { tg: number }).tg.toFixed(1)} t/s`);
} else log(`llama-bench not built (${benchBin}); skipping that row`);

// 2. node-llama-cpp in-process: raw evaluate loop (prompt timed apart from generation).
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true });
llama.maxThreads = threads;
const model = await llama.loadModel({ modelPath });
async function inProcess(label: string, batching?: { dispatchSchedule: (d: () => void) => void }) {
  const ctx = await model.createContext({ contextSize: 2048, sequences: 1, threads, batchSize: 512, ...(batching ? { batching } : {}) });
  const seq = ctx.getSequence();
  const prompt = Array.from({ length: PP }, (_v, i) => 300 + ((i * 37) % 20000)) as unknown as Token[];
  const ppTimes: number[] = [];
  const tgTimes: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    await seq.clearHistory();
    let t = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(prompt);
    ppTimes.push((PP * 1000) / (performance.now() - t));
    let n = 0;
    t = performance.now();
    for await (const _tok of seq.evaluate([prompt[0] as Token], { temperature: 0 })) if (++n >= TG) break;
    tgTimes.push((TG * 1000) / (performance.now() - t));
  }
  await ctx.dispose();
  const avg = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  log(`node-llama-cpp ${label}: pp${PP} ${avg(ppTimes).toFixed(1)} t/s, tg${TG} ${avg(tgTimes).toFixed(1)} t/s`);
  return { pp: avg(ppTimes), tg: avg(tgTimes) };
}
results.inProcess = await inProcess("evaluate loop (default batching)");
results.inProcessImmediateDispatch = await inProcess("evaluate loop (immediate dispatch)", { dispatchSchedule: (d) => d() });
await model.dispose();

// 3. Our API, streaming, same threads, same process.
const dataDir = mkdtempSync(join(tmpdir(), "sovereign-bench-"));
const { config } = resolveConfig({
  env: {},
  flags: {
    "paths.dataDir": dataDir, "log.level": "silent", "tuning.promptThreads": threads, "tuning.generationThreads": threads,
    "tuning.parallelSequences": 1, "tuning.contextSize": 2048, "tuning.batchSize": 512, "inference.idleUnloadMinutes": 0,
  },
});
const hardware = await detectHardware();
const app = await buildApp({ config, hardware, tuning: tuneForConfig(hardware.facts, config), logger: false });
await app.ready();
await app.inference.registry.add(modelPath, { name: "tinyllama" });
await app.listen({ port: 0, host: "127.0.0.1" });
const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
let key = "";
if (app.hasDecorator("auth")) {
  const auth = (app as unknown as { auth: { hashPassword(p: string): Promise<string>; users: { claim(u: string, h: string): { id: string } }; keys: { create(i: object): { secret: string } } } }).auth;
  const admin = auth.users.claim("bench", await auth.hashPassword("bench password for the run"));
  key = auth.keys.create({ userId: admin.id, name: "bench", scopes: ["chat", "models"], expiresAt: null }).secret;
}
await app.inference.load("tinyllama");

/** Streams one request; returns time to first chunk and generation t/s between first and last chunk. */
async function stream(path: string, body: object): Promise<{ ttftMs: number; tgTps: number; tokens: number }> {
  const start = performance.now();
  const r = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }) });
  const reader = (r.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let first = 0;
  let last = 0;
  let buf = "";
  let tokens = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += dec.decode(value);
    const now = performance.now();
    if (buf.includes('"content":"') || buf.includes('"text":"')) first ||= now;
    last = now;
    const m = /"completion_tokens":(\d+)/.exec(buf);
    if (m) tokens = Number(m[1]);
  }
  return { ttftMs: first - start, tgTps: ((tokens - 1) * 1000) / (last - first), tokens };
}
const words = "the happy dog ran to the park and saw a red ball near the big tree ".split(" ");
const text = (n: number, salt = "") => `${salt}${Array.from({ length: n }, (_v, i) => words[i % words.length]).join(" ")}`;
const apiRuns = [];
for (let rep = 0; rep < 3; rep++) {
  const prompt = text(PP - 1, `${rep} `);
  const r = await stream("/v1/completions", { model: "tinyllama", prompt, max_tokens: TG, temperature: 0 });
  apiRuns.push(r);
}
const apiTg = apiRuns.reduce((a, r) => a + r.tgTps, 0) / apiRuns.length;
const apiTtft = apiRuns.reduce((a, r) => a + r.ttftMs, 0) / apiRuns.length;
results.api = { tg: apiTg, ttftMsForPp: apiTtft, ppApprox: (PP * 1000) / apiTtft };
log(`API (streaming): tg ${apiTg.toFixed(1)} t/s, TTFT for a ${PP}-token prompt ${apiTtft.toFixed(0)} ms (≈ pp ${((PP * 1000) / apiTtft).toFixed(1)} t/s, includes 1 generated token)`);

// 4. Second turn with a ~1000-token history: prefix reuse vs cold.
const history = [{ role: "system", content: "You tell short stories." }, { role: "user", content: text(980) }];
const turn1 = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify({ model: "tinyllama", messages: history, max_tokens: 8, temperature: 0, conversation_id: "bench" }) });
const answer = ((await turn1.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content ?? "";
const followUp = [...history, { role: "assistant", content: answer }, { role: "user", content: "And then what happened?" }];
const warm = await stream("/v1/chat/completions", { model: "tinyllama", messages: followUp, max_tokens: 4, temperature: 0, conversation_id: "bench" });
const coldMessages = [{ role: "system", content: "Tell short stories." }, ...followUp.slice(1)];
const cold = await stream("/v1/chat/completions", { model: "tinyllama", messages: coldMessages, max_tokens: 4, temperature: 0, conversation_id: "bench-cold" });
results.secondTurn = { warmTtftMs: warm.ttftMs, coldTtftMs: cold.ttftMs, ratio: cold.ttftMs / warm.ttftMs };
log(`second turn, ~1000-token history: TTFT warm ${warm.ttftMs.toFixed(0)} ms vs cold ${cold.ttftMs.toFixed(0)} ms → ${(cold.ttftMs / warm.ttftMs).toFixed(1)}× faster`);

const rssKb = process.resourceUsage().maxRSS;
results.peakRssBytes = rssKb * 1024;
log(`peak RSS ${(rssKb / 1024).toFixed(0)} MiB with the model loaded (file ${(fileBytes / 1048576).toFixed(0)} MiB): ${((rssKb * 1024) / fileBytes).toFixed(2)}× the file`);
await app.close();
rmSync(dataDir, { recursive: true, force: true });

// 5. Embeddings/s on the generated MiniLM-shaped model (real MiniLM tokenizer when present).
let embDir: string;
try {
  embDir = testEmbedderDir({ real: true, hidden: 384 });
} catch {
  embDir = testEmbedderDir({ hidden: 384 });
}
const emb = await OnnxEmbedder.load(embDir, { threads, batchSize: 32 });
const sentences = Array.from({ length: 256 }, (_v, i) => text(8 + (i % 24), `${i} `));
const embRates: Record<string, number> = {};
for (const batch of [1, 32]) {
  await emb.embed(sentences.slice(0, batch));
  const t = performance.now();
  let n = 0;
  for (let i = 0; i < sentences.length; i += batch) {
    await emb.embed(sentences.slice(i, i + batch));
    n += Math.min(batch, sentences.length - i);
  }
  embRates[`batch${batch}`] = (n * 1000) / (performance.now() - t);
}
await emb.dispose();
results.embeddingsPerSecond = embRates;
results.embeddingModelNote = "generated MiniLM-signature model (embeddings + one dense layer, hidden 384), not the 6-layer MiniLM: measures the tokenizer/batching/pooling pipeline, an upper bound for real MiniLM";
log(`embeddings/s (generated MiniLM-shaped model): batch 1 ${embRates.batch1?.toFixed(0)}, batch 32 ${embRates.batch32?.toFixed(0)}`);

const lb = results.llamaBench as { pp: number; tg: number } | undefined;
const ip = results.inProcess as { pp: number; tg: number };
results.ratios = {
  apiTgVsLlamaBench: lb ? apiTg / lb.tg : null,
  inProcessTgVsLlamaBench: lb ? ip.tg / lb.tg : null,
  apiTgVsInProcess: apiTg / ip.tg,
  apiPpVsInProcess: (PP * 1000) / apiTtft / ip.pp,
};
log(`ratios: ${JSON.stringify(results.ratios)}`);
writeResult("inference", results);
