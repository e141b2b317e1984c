// `npm run bench inference`: on a TinyLlama-1.1B-shaped random-weight Q4_0 model, side by side in one
// run and interleaved round by round (the build machines are shared and noisy):
//   1. llama-bench vs node-llama-cpp's raw evaluate loop vs our engine in-process vs our HTTP API
//      (streaming), prompt (pp128) and generation (tg64), prompt at tune()'s prompt threads and generation at its
//      generation threads (BENCH_PROMPT_THREADS / BENCH_GEN_THREADS override one, BENCH_THREADS both);
//   2. a thread sweep through the API, quiet and with the HTTP server under load, on the tiny test
//      model and the TinyLlama-shaped one, against the thread count tune() picks for this machine;
//   3. second-turn TTFT with prefix reuse, peak RSS, embeddings/s.
// Medians of BENCH_ROUNDS rounds (default 5) and medians of per-round ratios; the load average is recorded.
// llama-bench is the one scripts/build-llama-ref.sh builds offline from node-llama-cpp's bundled llama.cpp
// source (.cache/llama-ref/<tag>); absent → that row is skipped.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Token } from "node-llama-cpp";
import { engineFactsOf, writeResult } from "./lib/writeResult.js";
import { existingLlamaRef, llamaBench as refBench } from "./lib/llamaRef.js";
import { healthLoad, median, openBenchApp, stream, type BenchApp } from "./lib/inferenceApp.js";
import { testEmbedderDir, testLlamaModel } from "../test/models/testModelCache.js";
import { OnnxEmbedder } from "../services/inference/embeddings/OnnxEmbedder.js";
import { loadLlama } from "../services/inference/LlamaEngine.js";
import { resolveConfig } from "../appliance/config/resolveConfig.js";
import { detectHardware } from "../hardware/detectHardware.js";
import { tuneForConfig } from "../hardware/tuneForConfig.js";
import { sweepCandidates } from "../hardware/calibrate.js";

const hardware = await detectHardware();
const usable = hardware.facts.cpu.usableCpus;
const { config: defaults } = resolveConfig({ env: {}, flags: {} });
const tuned = tuneForConfig(hardware.facts, defaults);
// Default: the counts the node runs with (tune(): one for prompt batches, one for generation steps);
// BENCH_THREADS=N measures both at N and writes inference-tN.json.
const genThreads = Number(process.env.BENCH_GEN_THREADS ?? process.env.BENCH_THREADS ?? tuned.generationThreads.value);
const promptThreads = Number(process.env.BENCH_PROMPT_THREADS ?? process.env.BENCH_THREADS ?? tuned.promptThreads.value);
/** The split the app runs with: openBenchApp's single count is overridden per phase. */
const phaseFlags = { "tuning.promptThreads": promptThreads, "tuning.generationThreads": genThreads };
const threads = genThreads;
const resultName = process.env.BENCH_THREADS ? `inference-t${process.env.BENCH_THREADS}` : process.env.BENCH_GEN_THREADS || process.env.BENCH_PROMPT_THREADS ? `inference-p${promptThreads}g${genThreads}` : "inference";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PP = 128;
const TG = 64;
const log = (s: string) => process.stdout.write(`${s}\n`);
const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(1));
const f2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(2));
const loads: number[][] = [loadavg()];
const results: Record<string, unknown> = { threads: { prompt: promptThreads, generation: genThreads }, pp: PP, tg: TG, rounds: ROUNDS };
type Row = { pp: number; tg: number };
/** pp from a run at the prompt count, tg from one at the generation count (one run when they are equal). */
async function split(f: (t: number) => Row | Promise<Row>): Promise<Row> {
  if (promptThreads === genThreads) return f(genThreads);
  return { pp: (await f(promptThreads)).pp, tg: (await f(genThreads)).tg };
}

const t0 = Date.now();
const modelPath = testLlamaModel("tinyllama-1.1b", "Q4_0");
const fileBytes = statSync(modelPath).size;
log(`model ${modelPath} (${(fileBytes / 1e6).toFixed(0)} MB, ready in ${((Date.now() - t0) / 1000).toFixed(1)} s), threads: prompt ${promptThreads}, generation ${genThreads}, ${ROUNDS} rounds, load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
results.modelFileBytes = fileBytes;

const words = "the happy dog ran to the park and saw a red ball near the big tree ".split(" ");
const text = (n: number, salt = "") => `${salt}${Array.from({ length: n }, (_v, i) => words[i % words.length]).join(" ")}`;

// 1. Side by side: llama-bench, raw evaluate loop, engine in-process, API. One of each per round.
// The llama-bench that scripts/build-llama-ref.sh builds for bench/llamaRef.bench.ts (one reference build for both).
const ref = existingLlamaRef();
const haveBench = ref !== null;
if (!haveBench) log("llama-bench not built (scripts/build-llama-ref.sh, or `npm run bench llamaRef` builds it); skipping that row");
const llamaBench = (t: number) => (ref ? refBench(ref, modelPath, t, { pp: PP, tg: TG }) : Promise.reject(new Error("no llama-bench")));

const llama = await loadLlama();
const rawModel = await llama.loadModel({ modelPath });
/** node-llama-cpp's own evaluate loop, with the context options our engine uses (one sequence, immediate dispatch). */
async function rawLoop(t: number): Promise<{ pp: number; tg: number }> {
  llama.maxThreads = t;
  const ctx = await rawModel.createContext({ contextSize: 2048, sequences: 1, threads: t, batchSize: 512, batching: { dispatchSchedule: (d) => d() } });
  try {
    const seq = ctx.getSequence();
    const prompt = Array.from({ length: PP }, (_v, i) => 300 + ((i * 37) % 20000)) as unknown as Token[];
    let t1 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(prompt);
    const pp = (PP * 1000) / (performance.now() - t1);
    let n = 0;
    t1 = performance.now();
    for await (const _tok of seq.evaluate([prompt[0] as Token], { temperature: 0 })) if (++n >= TG) break;
    return { pp, tg: (TG * 1000) / (performance.now() - t1) };
  } finally {
    await ctx.dispose();
  }
}

const dataDir = mkdtempSync(join(tmpdir(), "sovereign-bench-"));
const api = await openBenchApp(join(dataDir, "tinyllama"), modelPath, threads, hardware, phaseFlags);

/** Our engine in-process (InferenceService.generate, no HTTP), timed like the API: TTFT and first→last chunk. */
async function inProcess(prompt: string): Promise<{ ttftMs: number; tgTps: number }> {
  const start = performance.now();
  let first = 0;
  let last = 0;
  const r = await api.app.inference.generate({ model: "m", prompt, sampling: { maxTokens: TG, temperature: 0 }, onText: () => { last = performance.now(); first ||= last; } });
  return { ttftMs: first - start, tgTps: ((r.completionTokens - 1) * 1000) / (last - first) };
}

const rows: Record<"llamaBench" | "raw" | "inProcess" | "api", Row[]> = { llamaBench: [], raw: [], inProcess: [], api: [] };
// TTFT covers the prompt and the first token; both paths are timed the same way, so their ratio is fair.
const ppFromTtft = (ms: number) => (PP * 1000) / ms;
for (let rep = 0; rep < ROUNDS; rep++) {
  if (haveBench) rows.llamaBench.push(await split(llamaBench));
  rows.raw.push(await split(rawLoop));
  const ip = await inProcess(text(PP - 1, `in ${rep} `));
  rows.inProcess.push({ pp: ppFromTtft(ip.ttftMs), tg: ip.tgTps });
  const a = await stream(api, "/v1/completions", { model: "m", prompt: text(PP - 1, `api ${rep} `), max_tokens: TG, temperature: 0 });
  rows.api.push({ pp: ppFromTtft(a.ttftMs), tg: a.tgTps });
  const last = (k: keyof typeof rows) => rows[k].at(-1);
  log(`round ${rep + 1}: tg llama-bench ${f1(last("llamaBench")?.tg)} raw ${f1(last("raw")?.tg)} in-process ${f1(last("inProcess")?.tg)} API ${f1(last("api")?.tg)} | pp llama-bench ${f1(last("llamaBench")?.pp)} raw ${f1(last("raw")?.pp)} in-process(TTFT) ${f1(last("inProcess")?.pp)} API(TTFT) ${f1(last("api")?.pp)} | load ${loadavg()[0]?.toFixed(2)}`);
}
loads.push(loadavg());
const med = (k: keyof typeof rows, f: keyof Row) => median(rows[k].map((r) => r[f]));
const perRound = (a: keyof typeof rows, b: keyof typeof rows, f: keyof Row) => median(rows[a].map((r, i) => r[f] / (rows[b][i]?.[f] ?? NaN)));
results.sideBySide = {
  medians: Object.fromEntries(Object.keys(rows).map((k) => [k, { pp: med(k as keyof typeof rows, "pp"), tg: med(k as keyof typeof rows, "tg") }])),
  runs: rows,
};
results.ratios = {
  apiTgVsLlamaBench: haveBench ? perRound("api", "llamaBench", "tg") : null,
  inProcessTgVsLlamaBench: haveBench ? perRound("inProcess", "llamaBench", "tg") : null,
  rawTgVsLlamaBench: haveBench ? perRound("raw", "llamaBench", "tg") : null,
  apiTgVsInProcess: perRound("api", "inProcess", "tg"),
  apiPpVsInProcess: perRound("api", "inProcess", "pp"),
};
log(`medians tg: llama-bench ${f1(med("llamaBench", "tg"))}, raw loop ${f1(med("raw", "tg"))}, engine in-process ${f1(med("inProcess", "tg"))}, API ${f1(med("api", "tg"))} t/s`);
log(`medians pp: llama-bench ${f1(med("llamaBench", "pp"))}, raw loop ${f1(med("raw", "pp"))}, TTFT-based in-process ${f1(med("inProcess", "pp"))}, API ${f1(med("api", "pp"))} t/s`);
log(`ratios (median of per-round ratios): ${Object.entries(results.ratios as Record<string, number | null>).map(([k, v]) => `${k} ${v === null ? "-" : f2(v)}`).join(", ")}`);

// 3. Second turn with a ~1000-token history: prefix reuse vs cold.
const url = api.url;
const key = api.key;
const history = [{ role: "system", content: "You tell short stories." }, { role: "user", content: text(980) }];
const turn1 = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify({ model: "m", messages: history, max_tokens: 8, temperature: 0 }) });
const answer = ((await turn1.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content ?? "";
const followUp = [...history, { role: "assistant", content: answer }, { role: "user", content: "And then what happened?" }];
const warm = await stream(api, "/v1/chat/completions", { model: "m", messages: followUp, max_tokens: 4, temperature: 0 });
const coldMessages = [{ role: "system", content: "Tell short stories." }, ...followUp.slice(1)];
const cold = await stream(api, "/v1/chat/completions", { model: "m", messages: coldMessages, max_tokens: 4, temperature: 0 });
results.secondTurn = { warmTtftMs: warm.ttftMs, coldTtftMs: cold.ttftMs, ratio: cold.ttftMs / warm.ttftMs };
log(`second turn, ~1000-token history: TTFT warm ${warm.ttftMs.toFixed(0)} ms vs cold ${cold.ttftMs.toFixed(0)} ms → ${(cold.ttftMs / warm.ttftMs).toFixed(1)}× faster`);

const rssKb = process.resourceUsage().maxRSS;
results.peakRssBytes = rssKb * 1024;
log(`peak RSS ${(rssKb / 1024).toFixed(0)} MiB with the model loaded (file ${(fileBytes / 1048576).toFixed(0)} MiB): ${((rssKb * 1024) / fileBytes).toFixed(2)}× the file`);
const engine = engineFactsOf(api.app);
await api.close();
await rawModel.dispose();

// 2. Thread sweep through the API, with the HTTP server quiet and under load (clients hammering /healthz),
// on the tiny test model (per-token work is tiny, so scheduling dominates) and the TinyLlama-shaped one.
const candidates = sweepCandidates(usable);
const sweepRounds = Number(process.env.BENCH_SWEEP_ROUNDS ?? 3);
type Point = { pp: number; tg: number; healthPerSecond?: number; healthP99Ms?: number };
const sweep: Record<string, Record<string, Point[]>> = {};
const sweepModels = [
  { name: "tiny", path: testLlamaModel("tiny"), tg: 256 },
  { name: "tinyllama", path: modelPath, tg: TG },
];
for (let rep = 0; rep < sweepRounds; rep++) {
  for (const m of sweepModels) {
    for (const t of rep % 2 ? [...candidates].reverse() : candidates) {
      const b: BenchApp = await openBenchApp(join(dataDir, m.name), m.path, t, hardware);
      try {
        for (const condition of ["quiet", "httpLoad"] as const) {
          const load = condition === "httpLoad" ? healthLoad(b) : null;
          const r = await stream(b, "/v1/completions", { model: "m", prompt: text(PP - 1, `sw ${rep} ${condition} `), max_tokens: m.tg, temperature: 0 });
          const h = await load?.stop();
          const point: Point = { pp: ppFromTtft(r.ttftMs), tg: r.tgTps, ...(h ? { healthPerSecond: h.perSecond, healthP99Ms: h.p99Ms } : {}) };
          ((sweep[`${m.name}/${condition}`] ??= {})[String(t)] ??= []).push(point);
          log(`sweep ${m.name} ${condition} ${t} thread${t === 1 ? "" : "s"}: pp ${f1(point.pp)} tg ${f1(point.tg)} t/s${h ? `, /healthz ${h.perSecond.toFixed(0)} req/s p99 ${h.p99Ms.toFixed(1)} ms` : ""} | load ${loadavg()[0]?.toFixed(2)}`);
        }
      } finally {
        await b.close();
      }
    }
  }
}
loads.push(loadavg());
const sweepSummary: Record<string, unknown> = {};
const tunedThreads = { prompt: tuned.promptThreads.value, generation: tuned.generationThreads.value };
for (const [k, byThreads] of Object.entries(sweep)) {
  const meds = Object.fromEntries(Object.entries(byThreads).map(([t, pts]) => [t, {
    pp: median(pts.map((p) => p.pp)), tg: median(pts.map((p) => p.tg)),
    ...(pts[0]?.healthPerSecond !== undefined ? { healthPerSecond: median(pts.map((p) => p.healthPerSecond ?? NaN)), healthP99Ms: median(pts.map((p) => p.healthP99Ms ?? NaN)) } : {}),
  }]));
  const best = (f: "pp" | "tg") => Math.max(...Object.values(meds).map((v) => v[f]));
  // Each phase against its own tuned count.
  const ppAt = meds[String(tunedThreads.prompt)]?.pp ?? NaN;
  const tgAt = meds[String(tunedThreads.generation)]?.tg ?? NaN;
  sweepSummary[k] = { medians: meds, tunedThreads, tunedVsBest: { pp: ppAt / best("pp"), tg: tgAt / best("tg") } };
  log(`sweep ${k}: ${Object.entries(meds).map(([t, v]) => `${t}t pp ${f1(v.pp)} tg ${f1(v.tg)}`).join(" | ")} → tuned prompt ${tunedThreads.prompt} thread(s) at ${f2(ppAt / best("pp"))} of the best pp, generation ${tunedThreads.generation} at ${f2(tgAt / best("tg"))} of the best tg`);
}
results.threadSweep = {
  tuned: { ...tunedThreads, promptReason: tuned.promptThreads.reason, generationReason: tuned.generationThreads.reason, reservedCores: tuned.reservedCores },
  summary: sweepSummary, runs: sweep,
};


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

results.loadAverage = { start: loads[0], afterSideBySide: loads[1], afterSweep: loads[2], end: loadavg() };
rmSync(dataDir, { recursive: true, force: true });
writeResult(resultName, results, engine);
