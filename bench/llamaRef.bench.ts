// `npm run bench llamaRef`: this node against llama.cpp's own llama-server and llama-bench (issue 19's table),
// side by side in one run, interleaved round by round, on the TinyLlama-1.1B-shaped random-weight Q4_0 model,
// 128 generated tokens per request:
//   1. aggregate tokens/s with 1, 2 and 4 concurrent streaming users, this node at tune()'s setting
//      (threads per phase, parallel sequences) vs llama-server with 4 slots at the same thread counts;
//      the slowest user's time to first token with 4 users, both sides;
//   2. single user at the tuned setting vs llama-bench at its best thread count;
//   3. generation with one core taken by a competing process (a busy-loop child) ÷ the same without it;
//   4. prompt processing (from time to first token, 256-word prompt) at the tuned prompt threads ÷ the best count.
// The reference binaries are built from node-llama-cpp's bundled llama.cpp source when missing
// (scripts/build-llama-ref.sh). Each figure is stored with the load average it was taken at; the
// machines are shared, so only the ratios of one run mean anything. BENCH_ROUNDS (default 3). The parts run
// 3, 4, then 1 + 2 (the longest), and results/llamaRef.json is written after each, so a run cut short keeps what it measured;
// BENCH_PARTS (default "contention,prompt,users") runs only those named; the others keep the previous result file's
// measurements, marked under carriedOver with when and at which commit they were taken. Part 1 runs this node twice, with the thread
// adapter (inference.threadAdapter, the default) and without it, side by side with llama-server.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { engineFactsOf, writeResult } from "./lib/writeResult.js";
import { median, openBenchApp, stream, type BenchApp } from "./lib/inferenceApp.js";
import { busyLoop, llamaBench, llamaRefBinaries, localBuildIsa, startLlamaServer } from "./lib/llamaRef.js";
import { testLlamaModel } from "../test/models/testModelCache.js";
import { resolveConfig } from "../appliance/config/resolveConfig.js";
import { detectHardware } from "../hardware/detectHardware.js";
import { tuneForConfig } from "../hardware/tuneForConfig.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TG = 128;
const PROMPT_WORDS = 48;
const PP_WORDS = 256;
const USERS = [1, 2, 4] as const;
const PARTS = new Set((process.env.BENCH_PARTS ?? "contention,prompt,users").split(",").map((p) => p.trim()));
const log = (s: string) => process.stdout.write(`${s}\n`);
const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(1));
const f2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(2));
const load1 = () => Number(loadavg()[0]?.toFixed(2));

const ref = llamaRefBinaries();
const hardware = await detectHardware();
const usable = hardware.facts.cpu.usableCpus;
const { config: defaults } = resolveConfig({ env: {}, flags: {} });
const tuned = tuneForConfig(hardware.facts, defaults);
const gen = tuned.generationThreads.value;
const prompt = tuned.promptThreads.value;
const sequences = tuned.parallelSequences.value;
const ctxPerSeq = 2048;
const modelPath = testLlamaModel("tinyllama-1.1b", "Q4_0");
log(`llamaRef: ${modelPath}; tuned: prompt ${prompt} thread(s), generation ${gen}, ${sequences} sequences; llama.cpp ${ref.commit ?? "?"}; ${ROUNDS} rounds; load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);

const words = "the happy dog ran to the park and saw a red ball near the big tree ".split(" ");
const text = (n: number, salt: string) => `${salt} ${Array.from({ length: n }, (_v, i) => words[i % words.length]).join(" ")}`;

const dataDir = mkdtempSync(join(tmpdir(), "sovereign-llamaref-"));
const phase = (p: number) => ({ "tuning.promptThreads": p, "tuning.generationThreads": gen, "tuning.parallelSequences": sequences, "tuning.contextSize": ctxPerSeq });
const ours = await openBenchApp(join(dataDir, `p${prompt}`), modelPath, gen, hardware, phase(prompt));
const engine = engineFactsOf(ours.app);
// The same setting with generation fixed at tune()'s count (no thread adapter): only where the adapter has two counts to pick from.
const oursFixed = PARTS.has("users") && prompt > gen
  ? await openBenchApp(join(dataDir, `p${prompt}-fixed`), modelPath, gen, hardware, { ...phase(prompt), "inference.threadAdapter": "off" })
  : null;
type Target = Pick<BenchApp, "url" | "key">;
// The model loads on the first request; the binary is known from then on.
let ourBinary: string | null = null;
const noteBinary = async () => { ourBinary ??= (await ours.app.inference.engineStats())?.binary ?? null; };

interface UsersPoint {
  users: number; aggregateTps: number; slowestTtftMs: number; tokens: number; load1: number;
  /** This node only, from its runner's decode counts (GET /api/inference/status's engine): prompt decodes of this point by sequences carried (4: 1 = all four prompts in one decode), and generation decodes by tokens. */
  promptSequences?: Record<string, number>; generationSizes?: Record<string, number>;
  /** Of this point's time, ms in prompt decodes and ms its prompts' dispatch was held to gather the users (same source). */
  promptDecodeMs?: number; dispatchHeldMs?: number;
  /** Of this point's time, ms in generation decodes and ms between them (sampling, the runs' loops, waits for stragglers; from the phase thread switch). */
  generationDecodeMs?: number; generationGapMs?: number;
  /** This node only: the point's generation steps by the thread count they ran at (the thread adapter moves it). */
  generationByThreads?: Record<string, number>;
}
/** What a counter map gained between two reads. */
const gained = (after: Record<string, number> = {}, before: Record<string, number> = {}) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
async function users(target: Target, n: number, salt: string, extra: object): Promise<UsersPoint> {
  const app = "app" in target ? (target as BenchApp).app : null;
  const beforeStats = await app?.inference.engineStats();
  const before = beforeStats?.batching;
  const t0 = performance.now();
  const runs = await Promise.all(Array.from({ length: n }, (_v, i) =>
    stream(target as BenchApp, "/v1/completions", { model: "m", prompt: text(PROMPT_WORDS, `${salt} u${i}`), max_tokens: TG, temperature: 0, ...extra })));
  const wall = performance.now() - t0;
  const tokens = runs.reduce((a, r) => a + r.tokens, 0);
  const afterStats = await app?.inference.engineStats();
  const after = afterStats?.batching;
  return {
    users: n, aggregateTps: (tokens * 1000) / wall, slowestTtftMs: Math.max(...runs.map((r) => r.ttftMs)), tokens, load1: load1(),
    ...(after ? {
      promptSequences: gained(after.promptSequences, before?.promptSequences), generationSizes: gained(after.sizes, before?.sizes),
      promptDecodeMs: after.promptDecodeMs - (before?.promptDecodeMs ?? 0), dispatchHeldMs: after.dispatchHeldMs - (before?.dispatchHeldMs ?? 0),
    } : {}),
    ...(afterStats?.threads ? {
      generationByThreads: gained(afterStats.threads.generationByThreads, beforeStats?.threads?.generationByThreads),
      generationDecodeMs: afterStats.threads.generationDecodeMs - (beforeStats?.threads?.generationDecodeMs ?? 0),
      generationGapMs: afterStats.threads.generationGapMs - (beforeStats?.threads?.generationGapMs ?? 0),
    } : {}),
  };
}
const serverExtra = { ignore_eos: true };

type Side = "ours" | "oursAdapterOff" | "server";
interface Previous {
  measuredAt?: string; commit?: string;
  results?: {
    users?: { runs?: Partial<Record<Side, UsersPoint[]>> }; singleUser?: { oursTg?: number[]; llamaBenchTg?: Record<string, Array<{ tg: number; load1: number }>> };
    contention?: typeof contention; prompt?: { runs?: typeof pp }; carriedOver?: Record<string, { measuredAt?: string; commit?: string }>;
  };
}
const previousPath = join(import.meta.dirname, "results", "llamaRef.json");
const previous: Previous | null = PARTS.size < 3 && existsSync(previousPath) ? (JSON.parse(readFileSync(previousPath, "utf8")) as Previous) : null;
const carry = (part: string) => !PARTS.has(part) && previous?.results !== undefined;
const carriedOver = Object.fromEntries(["contention", "prompt", "users"].filter(carry)
  .map((part) => [part, previous?.results?.carriedOver?.[part] ?? { measuredAt: previous?.measuredAt, commit: previous?.commit }]));
const prevRuns = carry("users") ? previous?.results?.users?.runs : undefined;
const rows: Record<Side, UsersPoint[]> = { ours: [...prevRuns?.ours ?? []], oursAdapterOff: [...prevRuns?.oursAdapterOff ?? []], server: [...prevRuns?.server ?? []] };
const oursSingleTg: number[] = carry("users") ? [...previous?.results?.singleUser?.oursTg ?? []] : [];
const benchTg: Record<string, Array<{ tg: number; load1: number }>> = carry("users") ? { ...previous?.results?.singleUser?.llamaBenchTg } : {};
const threadCounts = Array.from({ length: Math.min(usable, 4) }, (_v, i) => i + 1);
const contention: Array<{ quiet: number; busy: number; benchQuiet: number; benchBusy: number; loadQuiet: number; loadBusy: number }> =
  carry("contention") ? [...previous?.results?.contention ?? []] : [];
const pp: Record<string, Array<{ pp: number; load1: number }>> = carry("prompt") ? { ...previous?.results?.prompt?.runs } : {};

function save(): void {

  const at = (side: Side, n: number) => rows[side].filter((p) => p.users === n);
  const perRound = (a: UsersPoint[], b: UsersPoint[], f: (p: UsersPoint) => number) => median(a.map((p, i) => f(p) / f(b[i] as UsersPoint)));
  const usersSummary = Object.fromEntries(USERS.map((n) => [n, {
    ours: { aggregateTps: median(at("ours", n).map((p) => p.aggregateTps)), slowestTtftMs: median(at("ours", n).map((p) => p.slowestTtftMs)) },
    oursAdapterOff: { aggregateTps: median(at("oursAdapterOff", n).map((p) => p.aggregateTps)), slowestTtftMs: median(at("oursAdapterOff", n).map((p) => p.slowestTtftMs)) },
    server: { aggregateTps: median(at("server", n).map((p) => p.aggregateTps)), slowestTtftMs: median(at("server", n).map((p) => p.slowestTtftMs)) },
    aggregateRatio: perRound(at("ours", n), at("server", n), (p) => p.aggregateTps),
    slowestTtftRatio: perRound(at("ours", n), at("server", n), (p) => p.slowestTtftMs),
    adapterOff: {
      aggregateRatio: perRound(at("oursAdapterOff", n), at("server", n), (p) => p.aggregateTps),
      slowestTtftRatio: perRound(at("oursAdapterOff", n), at("server", n), (p) => p.slowestTtftMs),
    },
  }]));
  const benchBest = Math.max(-Infinity, ...Object.values(benchTg).map((pts) => median(pts.map((p) => p.tg))));
  const benchBestThreads = Object.entries(benchTg).find(([, pts]) => median(pts.map((p) => p.tg)) === benchBest)?.[0];

  const ppMedians = Object.fromEntries(Object.entries(pp).map(([t, pts]) => [t, median(pts.map((p) => p.pp))]));
  const ppBest = Math.max(...Object.values(ppMedians));
  const ratios = {
    aggregate4UsersVsServer: { value: usersSummary[4]?.aggregateRatio, target: ">= 1.0", adapterOff: usersSummary[4]?.adapterOff.aggregateRatio },
    slowestTtft4UsersVsServer: { value: usersSummary[4]?.slowestTtftRatio, target: "<= 1.0", adapterOff: usersSummary[4]?.adapterOff.slowestTtftRatio },
    singleUserVsLlamaBenchBest: { value: median(oursSingleTg) / benchBest, target: ">= 0.95", llamaBenchBestThreads: Number(benchBestThreads) },
    generationBusyVsQuiet: { value: median(contention.map((c) => c.busy / c.quiet)), target: ">= 0.45", llamaBench: median(contention.map((c) => c.benchBusy / c.benchQuiet)) },
    promptTunedVsBest: { value: (ppMedians[String(prompt)] ?? NaN) / ppBest, target: ">= 0.95" },
  };
  for (const n of USERS) {
    const u = usersSummary[n];
    log(`${n} user(s): ours ${f1(u?.ours.aggregateTps)} (adapter off ${f1(u?.oursAdapterOff.aggregateTps)}) vs llama-server ${f1(u?.server.aggregateTps)} tok/s (ratio ${f2(u?.aggregateRatio)}, off ${f2(u?.adapterOff.aggregateRatio)}); slowest TTFT ours ${f1(u?.ours.slowestTtftMs)} (off ${f1(u?.oursAdapterOff.slowestTtftMs)}) vs ${f1(u?.server.slowestTtftMs)} ms (ratio ${f2(u?.slowestTtftRatio)}, off ${f2(u?.adapterOff.slowestTtftRatio)})`);
  }
  log(`ratios: ${Object.entries(ratios).map(([k, v]) => `${k} ${f2(v.value)} (target ${v.target})`).join("; ")}`);
  writeResult("llamaRef", {
    model: "tinyllama-1.1b-shaped Q4_0 (random weights, generated)",
    tokensPerRequest: TG, promptWords: PROMPT_WORDS, rounds: ROUNDS,
    threads: { prompt, generation: gen }, sequences, threadAdapter: { ours: prompt > gen, oursAdapterOff: false },
    // node-llama-cpp's prebuilt, or scripts/build-llama-addon.sh's local build (a persistent thread pool): the bench runs whichever is installed.
    llamaBinary: ourBinary,
    // The local build's cmake flags (null: the prebuilt, whose CPU variant is picked at run time); equal to the
    // reference's only when both were compiled for this host (build-llama-addon.sh without --board).
    llamaBinaryIsa: ourBinary === "localBuild" ? localBuildIsa() : null,
    parts: [...PARTS], carriedOver,
    reference: {
      llamaCppCommit: ref.commit,
      build: "scripts/build-llama-ref.sh: CPU only, GGML_OPENMP=OFF (as node-llama-cpp's prebuilt), GGML_NATIVE=OFF with one variant of this CPU's instruction sets, no AMX (the prebuilt has all CPU variants, one picked at run time)",
      isa: ref.isa,
      server: { slots: 4, contextPerSlot: ctxPerSeq, threads: gen, batchThreads: prompt, ignoreEos: true },
    },
    users: { summary: usersSummary, runs: rows },
    singleUser: { oursTg: oursSingleTg, llamaBenchTg: benchTg, llamaBenchBest: benchBest },
    contention,
    prompt: { runs: pp, medians: ppMedians, tunedThreads: prompt },
    ratios,
    loadAverage: loadavg(),
  }, engine);

}

// 3. Generation with one core taken by a busy-loop child ÷ quiet, alternating; llama-bench at the same thread count alongside.
for (let r = 0; PARTS.has("contention") && r < ROUNDS; r++) {
  const quiet = await stream(ours, "/v1/completions", { model: "m", prompt: text(PROMPT_WORDS, `c${r} quiet`), max_tokens: TG, temperature: 0 });
  const benchQuiet = (await llamaBench(ref, modelPath, gen, { tg: TG })).tg;
  const loadQuiet = load1();
  const hog = busyLoop();
  try {
    await new Promise((res) => setTimeout(res, 500));
    const busy = await stream(ours, "/v1/completions", { model: "m", prompt: text(PROMPT_WORDS, `c${r} busy`), max_tokens: TG, temperature: 0 });
    const benchBusy = (await llamaBench(ref, modelPath, gen, { tg: TG })).tg;
    contention.push({ quiet: quiet.tgTps, busy: busy.tgTps, benchQuiet, benchBusy, loadQuiet, loadBusy: load1() });
  } finally {
    hog.stop();
  }
  const c = contention.at(-1);
  log(`contention round ${r + 1}: ours quiet ${f1(c?.quiet)} busy ${f1(c?.busy)} tok/s; llama-bench ${gen}t quiet ${f1(c?.benchQuiet)} busy ${f1(c?.benchBusy)} | load ${c?.loadQuiet} / ${c?.loadBusy}`);
}

await noteBinary();
save();

// 4. Prompt processing from TTFT (a fresh 256-word prompt), at each prompt thread count, one app per count.
const ppApps = new Map<number, BenchApp>([[prompt, ours]]);
for (const t of threadCounts) if (PARTS.has("prompt") && !ppApps.has(t)) ppApps.set(t, await openBenchApp(join(dataDir, `p${t}`), modelPath, gen, hardware, phase(t)));
for (let r = 0; PARTS.has("prompt") && r < ROUNDS; r++) {
  for (const t of r % 2 ? [...threadCounts].reverse() : threadCounts) {
    const app = ppApps.get(t) as BenchApp;
    const res = await stream(app, "/v1/completions", { model: "m", prompt: text(PP_WORDS, `pp r${r} t${t}`), max_tokens: 2, temperature: 0 });
    (pp[String(t)] ??= []).push({ pp: (res.promptTokens * 1000) / res.ttftMs, load1: load1() });
  }
  log(`prompt round ${r + 1}: ${threadCounts.map((t) => `${t}t ${f1(pp[String(t)]?.at(-1)?.pp)}`).join(", ")} tok/s | load ${load1()}`);
}

await noteBinary();
save();

// 1 + 2. Users, interleaved: per round each user count on each side, the order rotating; llama-bench tg per thread count.
const server = PARTS.has("users") ? await startLlamaServer(ref, modelPath, { slots: 4, ctxPerSlot: ctxPerSeq, threads: gen, batchThreads: prompt, batchSize: 512 }) : null;
if (server) log(`llama-server at ${server.url}: -np 4 -c ${4 * ctxPerSeq} -t ${gen} -tb ${prompt}`);
const sideOrder: Side[] = oursFixed ? ["ours", "oursAdapterOff", "server"] : ["ours", "server"];
for (let r = 0; server && r < ROUNDS; r++) {
  for (const [i, n] of USERS.entries()) {
    const k = (r * USERS.length + i) % sideOrder.length;
    const sides = [...sideOrder.slice(k), ...sideOrder.slice(0, k)];
    for (const side of sides) {
      const p = side === "server" ? await users(server, n, `r${r} s${n}`, serverExtra)
        : await users(side === "ours" ? ours : oursFixed as BenchApp, n, `r${r} ${side === "ours" ? "o" : "f"}${n}`, {});
      rows[side].push(p);
      const decodes = p.promptSequences ? `; prompt decodes by sequences ${JSON.stringify(p.promptSequences)}, generation decodes by tokens ${JSON.stringify(p.generationSizes)}${p.generationByThreads ? ` and by threads ${JSON.stringify(p.generationByThreads)}` : ""}, prompt decodes ${f1(p.promptDecodeMs)} ms, held ${f1(p.dispatchHeldMs)} ms, generation decodes ${f1(p.generationDecodeMs)} ms, between them ${f1(p.generationGapMs)} ms` : "";
      log(`round ${r + 1} ${side} ${n} user(s): ${f1(p.aggregateTps)} tok/s aggregate, slowest TTFT ${f1(p.slowestTtftMs)} ms (${p.tokens} tokens)${decodes} | load ${p.load1}`);
    }
  }
  const single = await stream(ours, "/v1/completions", { model: "m", prompt: text(PROMPT_WORDS, `r${r} single`), max_tokens: TG, temperature: 0 });
  oursSingleTg.push(single.tgTps);
  for (const t of threadCounts) (benchTg[String(t)] ??= []).push({ tg: (await llamaBench(ref, modelPath, t, { tg: TG })).tg, load1: load1() });
  log(`round ${r + 1} single user: ours ${f1(single.tgTps)} tok/s; llama-bench tg${TG} ${threadCounts.map((t) => `${t}t ${f1(benchTg[String(t)]?.at(-1)?.tg)}`).join(", ")} | load ${load1()}`);
  await noteBinary();
  save();
}
await server?.close();
await noteBinary();
save();
await oursFixed?.close();
for (const [t, app] of ppApps) if (t !== prompt) await app.close();
await ours.close();
rmSync(dataDir, { recursive: true, force: true });
