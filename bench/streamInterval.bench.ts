// `npm run bench streamInterval` (issue 19): one streaming user's generation tokens/s with the runner sending
// every token to the node (inference.streamIntervalMs 0) against gathered pieces (40, the default, and 100).
// Apps at tune()'s setting in this one process, one per interval, the TinyLlama-shaped Q4_0, 128 tokens;
// requests alternate between them (order reversed every other round), BENCH_ROUNDS rounds (default 8).
// Reported: medians, and the median of the per-round ratios to interval 0 (a pair shares the machine's moment).
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { engineFactsOf, writeResult } from "./lib/writeResult.js";
import { median, openBenchApp, stream, type BenchApp } from "./lib/inferenceApp.js";
import { testLlamaModel } from "../test/models/testModelCache.js";
import { resolveConfig } from "../appliance/config/resolveConfig.js";
import { detectHardware } from "../hardware/detectHardware.js";
import { tuneForConfig } from "../hardware/tuneForConfig.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const INTERVALS = [0, 40, 100] as const;
const TG = 128;
const log = (s: string) => process.stdout.write(`${s}\n`);

const hardware = await detectHardware();
const tuned = tuneForConfig(hardware.facts, resolveConfig({ env: {}, flags: {} }).config);
const modelPath = testLlamaModel("tinyllama-1.1b", "Q4_0");
const dataDir = mkdtempSync(join(tmpdir(), "sovereign-streaminterval-"));
const sides: { ms: number; app: BenchApp; tps: number[]; loads: number[] }[] = [];
for (const ms of INTERVALS) {
  const app = await openBenchApp(join(dataDir, `i${ms}`), modelPath, tuned.generationThreads.value, hardware, {
    "tuning.promptThreads": tuned.promptThreads.value, "tuning.parallelSequences": tuned.parallelSequences.value, "inference.streamIntervalMs": ms,
  });
  sides.push({ ms, app, tps: [], loads: [] });
}
const body = (salt: string) => ({ model: "m", prompt: `${salt} the happy dog ran to the park and saw a red ball near the big tree`, max_tokens: TG, temperature: 0 });
try {
  for (const s of sides) await stream(s.app, "/v1/completions", body("warm"));
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of r % 2 ? [...sides].reverse() : sides) {
      s.tps.push((await stream(s.app, "/v1/completions", body(`r${r}`))).tgTps);
      s.loads.push(Number(loadavg()[0]?.toFixed(2)));
    }
    log(`round ${r + 1}: ${sides.map((s) => `${s.ms} ms ${s.tps.at(-1)?.toFixed(1)}`).join(", ")} tok/s | load ${loadavg()[0]?.toFixed(2)}`);
  }
  const base = sides[0];
  if (!base) throw new Error("no sides");
  /** The median of one side's per-round ratios to interval 0 (a pair shares the machine's moment). */
  const ratioToBase = (s: (typeof sides)[number]) => median(s.tps.map((x, i) => x / (base.tps[i] ?? Number.NaN)));
  const results = {
    model: "tinyllama-1.1b-shaped Q4_0 (random weights, generated)", tokensPerRequest: TG, rounds: ROUNDS,
    threads: { prompt: tuned.promptThreads.value, generation: tuned.generationThreads.value }, sequences: tuned.parallelSequences.value,
    intervals: Object.fromEntries(sides.map((s) => [s.ms, {
      medianTps: median(s.tps), tps: s.tps, load1: s.loads,
      ...(s === base ? {} : { ratioToEveryToken: ratioToBase(s) }),
    }])),
  };
  for (const s of sides.slice(1)) log(`${s.ms} ms ÷ 0 ms: ${ratioToBase(s).toFixed(3)} (median of ${ROUNDS} pairs)`);
  writeResult("streamInterval", results, engineFactsOf(sides[1]?.app.app ?? base.app.app));
} finally {
  for (const s of sides) await s.app.close();
  rmSync(dataDir, { recursive: true, force: true });
}
