// `npm run bench runner`: llama.cpp in a supervised runner process against llama.cpp in the node's own process,
// side by side in one run, interleaved round by round (the build machines are shared and noisy):
//   1. API prompt and generation tokens/s on the TinyLlama-1.1B-shaped Q4_0 model (pp128, tg64), runner ÷ in-process
//      (target ≥ 0.97), and /healthz p99 while a generation runs, runner vs in-process;
//   2. the time to first token the runner hop adds, on the tiny model (a short prompt, one token: the hop dominates),
//      through InferenceService.generate (no HTTP) and through the API, as a difference of medians (target ≤ 5 ms);
//   3. RSS of a fresh node process with no model loaded, and with the model loaded (runner vs in-process), and the runner's RSS.
// Threads: tune()'s per-phase counts for this machine (BENCH_THREADS=N: N for both). Medians of BENCH_ROUNDS rounds (default 6).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { writeResult } from "./lib/writeResult.js";
import { healthLoad, median, openBenchApp, stream, type BenchApp } from "./lib/inferenceApp.js";
import { testLlamaModel } from "../test/models/testModelCache.js";
import { resolveConfig } from "../appliance/config/resolveConfig.js";
import { detectHardware } from "../hardware/detectHardware.js";
import { tuneForConfig } from "../hardware/tuneForConfig.js";

const hardware = await detectHardware();
const { config: defaults } = resolveConfig({ env: {}, flags: {} });
const tuned = tuneForConfig(hardware.facts, defaults);
const threads = Number(process.env.BENCH_THREADS ?? tuned.engineThreads.value);
// The per-phase counts the node runs with (tune(): on 2 cores, 2 for prompt batches, 1 for generation steps, so the
// event loops keep a core); BENCH_THREADS sets both phases to one count instead.
const phase = process.env.BENCH_THREADS
  ? { prompt: threads, generation: threads }
  : { prompt: tuned.promptThreads.value, generation: tuned.generationThreads.value };
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const HOP_SAMPLES = Number(process.env.BENCH_HOP_SAMPLES ?? 40);
const PP = 128;
const TG = 64;
const log = (s: string) => process.stdout.write(`${s}\n`);
const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(1));
const f2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(3));
const mib = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;
const loads: number[][] = [loadavg()];
const results: Record<string, unknown> = { threads, promptThreads: phase.prompt, generationThreads: phase.generation, pp: PP, tg: TG, rounds: ROUNDS, hopSamples: HOP_SAMPLES };

const big = testLlamaModel("tinyllama-1.1b", "Q4_0");
const tiny = testLlamaModel("tiny");
const words = "the happy dog ran to the park and saw a red ball near the big tree ".split(" ");
const text = (n: number, salt = "") => `${salt}${Array.from({ length: n }, (_v, i) => words[i % words.length]).join(" ")}`;
const dir = mkdtempSync(join(tmpdir(), "sovereign-bench-runner-"));
const modes = ["runner", "in-process"] as const;
type Mode = (typeof modes)[number];
const open = (model: string, path: string, mode: Mode) => openBenchApp(join(dir, `${model}-${mode}`), path, threads, hardware, { "inference.engineMode": mode, "tuning.promptThreads": phase.prompt, "tuning.generationThreads": phase.generation });

// 1. Throughput and /healthz p99 during generation.
const apps: Record<Mode, BenchApp> = { runner: await open("big", big, "runner"), "in-process": await open("big", big, "in-process") };
type Row = { pp: number; tg: number; healthP99Ms: number; healthPerSecond: number };
const rows: Record<Mode, Row[]> = { runner: [], "in-process": [] };
const ppFromTtft = (ms: number) => (PP * 1000) / ms;
for (let rep = 0; rep < ROUNDS; rep++) {
  for (const mode of rep % 2 ? [...modes].reverse() : modes) {
    const a = apps[mode];
    const quiet = await stream(a, "/v1/completions", { model: "m", prompt: text(PP - 1, `${mode} ${rep} `), max_tokens: TG, temperature: 0 });
    const load = healthLoad(a);
    await stream(a, "/v1/completions", { model: "m", prompt: text(PP - 1, `${mode} h${rep} `), max_tokens: TG, temperature: 0 });
    const h = await load.stop();
    rows[mode].push({ pp: ppFromTtft(quiet.ttftMs), tg: quiet.tgTps, healthP99Ms: h.p99Ms, healthPerSecond: h.perSecond });
  }
  const r = rows.runner.at(-1) as Row;
  const i = rows["in-process"].at(-1) as Row;
  log(`round ${rep + 1}: tg runner ${f1(r.tg)} in-process ${f1(i.tg)} | pp runner ${f1(r.pp)} in-process ${f1(i.pp)} t/s | /healthz p99 during generation runner ${f1(r.healthP99Ms)} in-process ${f1(i.healthP99Ms)} ms | load ${loadavg()[0]?.toFixed(2)}`);
}
loads.push(loadavg());
const runnerProcesses = apps.runner.app.inference.status().runners;
for (const a of Object.values(apps)) await a.close();
const med = (mode: Mode, f: keyof Row) => median(rows[mode].map((r) => r[f]));
const perRound = (f: keyof Row) => median(rows.runner.map((r, k) => r[f] / (rows["in-process"][k]?.[f] ?? NaN)));
results.throughput = {
  medians: { runner: { pp: med("runner", "pp"), tg: med("runner", "tg") }, inProcess: { pp: med("in-process", "pp"), tg: med("in-process", "tg") } },
  ratios: { tgRunnerVsInProcess: perRound("tg"), ppRunnerVsInProcess: perRound("pp") },
  target: ">= 0.97",
  runs: rows,
};
results.healthDuringGeneration = {
  p99Ms: { runner: med("runner", "healthP99Ms"), inProcess: med("in-process", "healthP99Ms") },
  perSecond: { runner: med("runner", "healthPerSecond"), inProcess: med("in-process", "healthPerSecond") },
  ratioP99RunnerVsInProcess: perRound("healthP99Ms"),
};
log(`throughput (median of per-round ratios): tg runner/in-process ${f2(perRound("tg"))}, pp ${f2(perRound("pp"))} (target >= 0.97)`);
log(`/healthz p99 during generation: runner ${f1(med("runner", "healthP99Ms"))} ms, in-process ${f1(med("in-process", "healthP99Ms"))} ms`);

// 2. The runner hop: time to first token on the tiny model, engine only (generate) and through the API.
const hopApps: Record<Mode, BenchApp> = { runner: await open("tiny", tiny, "runner"), "in-process": await open("tiny", tiny, "in-process") };
const ttft: Record<Mode, { engine: number[]; api: number[] }> = { runner: { engine: [], api: [] }, "in-process": { engine: [], api: [] } };
for (let k = 0; k < HOP_SAMPLES; k++) {
  for (const mode of k % 2 ? [...modes].reverse() : modes) {
    const a = hopApps[mode];
    const t0 = performance.now();
    let first = 0;
    await a.app.inference.generate({ model: "m", prompt: `the dog ${k}`, sampling: { maxTokens: 1, temperature: 0 }, onText: () => { first ||= performance.now(); } });
    ttft[mode].engine.push(first - t0);
    ttft[mode].api.push((await stream(a, "/v1/completions", { model: "m", prompt: `the cat ${k}`, max_tokens: 1, temperature: 0 })).ttftMs);
  }
}
for (const a of Object.values(hopApps)) await a.close();
const hop = (f: "engine" | "api") => median(ttft.runner[f]) - median(ttft["in-process"][f]);
results.ttftHop = {
  medianMs: { runner: { engine: median(ttft.runner.engine), api: median(ttft.runner.api) }, inProcess: { engine: median(ttft["in-process"].engine), api: median(ttft["in-process"].api) } },
  addedByRunnerMs: { engine: hop("engine"), api: hop("api") },
  target: "<= 5 ms",
  samples: ttft,
};
log(`TTFT added by the runner hop (difference of medians, tiny model, 1 token): engine ${f2(hop("engine"))} ms, API ${f2(hop("api"))} ms (target <= 5 ms)`);

// 3. RSS, each in a fresh node process (under tsx, like every bench).
function probe(mode: Mode, load: boolean): { nodeRssBytes: number; runners: Array<{ rssBytes: number }> } {
  const out = execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", join(import.meta.dirname, "lib", "rssProbe.ts"), mode, big, load ? "load" : ""], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").at(-1) as string) as { nodeRssBytes: number; runners: Array<{ rssBytes: number }> };
}
const rss = {
  nodeNoModel: { runner: probe("runner", false).nodeRssBytes, inProcess: probe("in-process", false).nodeRssBytes },
  withModelLoaded: (() => {
    const r = probe("runner", true);
    const i = probe("in-process", true);
    return { runner: { node: r.nodeRssBytes, runners: r.runners.map((p) => p.rssBytes) }, inProcess: { node: i.nodeRssBytes } };
  })(),
  runnerDuringThroughputRun: runnerProcesses.map((p) => p.rssBytes),
};
results.rssBytes = rss;
results.rssNote = "fresh node processes under tsx (as every bench runs); the runner holds the model's memory in runner mode";
log(`RSS: node without a model: runner mode ${mib(rss.nodeNoModel.runner)}, in-process mode ${mib(rss.nodeNoModel.inProcess)}; with the model loaded: node ${mib(rss.withModelLoaded.runner.node)} + runner ${rss.withModelLoaded.runner.runners.map(mib).join(", ")} vs in-process node ${mib(rss.withModelLoaded.inProcess.node)}`);

results.loadAverage = { start: loads[0], afterThroughput: loads[1], end: loadavg() };
results.machineNote = `${hardware.facts.cpu.usableCpus} usable CPUs; tune() engine threads ${tuned.engineThreads.value} (${tuned.engineThreads.reason})`;
rmSync(dir, { recursive: true, force: true });
writeResult("runner", results);
