// `npx tsx bench/experiments/uvpool.ts` (ROUNDS=5 by default; needs the llama reference binaries that
// `npm run bench llamaRef` builds). Ad-hoc (issue 19, single user 0.86 of llama-bench): does the decode's caller thread matter (libuv's pool hands each
// decode to any of 4 workers; UV_THREADPOOL_SIZE=1 keeps one), or the 4-sequence KV cache? Interleaved, quiet.
import { mkdtempSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { median, openBenchApp, stream, type BenchApp } from "../../bench/lib/inferenceApp.js";
import { llamaBench, llamaRefBinaries } from "../../bench/lib/llamaRef.js";
import { testLlamaModel } from "../../test/models/testModelCache.js";
import { resolveConfig } from "../../appliance/config/resolveConfig.js";
import { detectHardware } from "../../hardware/detectHardware.js";
import { tuneForConfig } from "../../hardware/tuneForConfig.js";
const ref = llamaRefBinaries();
const hw = await detectHardware();
const tuned = tuneForConfig(hw.facts, resolveConfig({ env: {}, flags: {} }).config);
const gen = tuned.generationThreads.value, prompt = tuned.promptThreads.value, seqs = tuned.parallelSequences.value;
const model = testLlamaModel("tinyllama-1.1b", "Q4_0");
const dir = mkdtempSync(join(tmpdir(), "uvpool-"));
const flags = (s: number) => ({ "tuning.promptThreads": prompt, "tuning.generationThreads": gen, "tuning.parallelSequences": s, "tuning.contextSize": 2048 });
const apps: Record<string, BenchApp> = {};
apps.default = await openBenchApp(join(dir, "a"), model, gen, hw, flags(seqs));
process.env.UV_THREADPOOL_SIZE = "1";
apps.uv1 = await openBenchApp(join(dir, "b"), model, gen, hw, flags(seqs));
delete process.env.UV_THREADPOOL_SIZE;
apps.seq1 = await openBenchApp(join(dir, "c"), model, gen, hw, flags(1));
const words = "the happy dog ran to the park and saw a red ball near the big tree ".split(" ");
const text = (salt: string) => `${salt} ${Array.from({ length: 48 }, (_v, i) => words[i % words.length]).join(" ")}`;
for (const [k, a] of Object.entries(apps)) await stream(a, "/v1/completions", { model: "m", prompt: text(`warm ${k}`), max_tokens: 32, temperature: 0 });
const res: Record<string, number[]> = { default: [], uv1: [], seq1: [], bench2t: [] };
const sides = Object.keys(res);
for (let r = 0; r < Number(process.env.ROUNDS ?? 5); r++) {
  const order = [...sides.slice(r % sides.length), ...sides.slice(0, r % sides.length)];
  for (const s of order) {
    const tg = s === "bench2t" ? (await llamaBench(ref, model, 2, { tg: 128 })).tg : (await stream(apps[s]!, "/v1/completions", { model: "m", prompt: text(`r${r} ${s}`), max_tokens: 128, temperature: 0 })).tgTps;
    res[s]!.push(tg);
  }
  console.log(`round ${r + 1}: ${sides.map((s) => `${s} ${res[s]!.at(-1)!.toFixed(1)}`).join(", ")} | load ${loadavg()[0]!.toFixed(2)}`);
}
console.log(`gen ${gen} prompt ${prompt} seqs ${seqs}; medians: ${sides.map((s) => `${s} ${median(res[s]!).toFixed(1)}`).join(", ")}; ratios to bench2t: ${sides.map((s) => `${s} ${(median(res[s]!) / median(res.bench2t!)).toFixed(3)}`).join(", ")}`);
for (const a of Object.values(apps)) await a.close();
