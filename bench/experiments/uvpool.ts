// `npx tsx bench/experiments/uvpool.ts` (ROUNDS=5 by default; needs the llama reference binaries that
// `npm run bench llamaRef` builds). Ad-hoc (issue 19, single user 0.86 of llama-bench): does the decode's caller thread matter (libuv's pool hands each
// decode to any of 4 workers; UV_THREADPOOL_SIZE=1 keeps one), or the 4-sequence KV cache? Interleaved, quiet.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBenchApp, stream, type BenchApp } from "../../bench/lib/inferenceApp.js";
import { interleavedRounds, mediansAndRatios } from "../../bench/lib/interleavedRounds.js";
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
// A new prefix per request (as each round had its own), so no side reuses another request's cached prompt.
let asked = 0;
const tg = async (s: string): Promise<number> => (await stream(apps[s]!, "/v1/completions", { model: "m", prompt: text(`r${asked++} ${s}`), max_tokens: 128, temperature: 0 })).tgTps;
const res = await interleavedRounds({ default: () => tg("default"), uv1: () => tg("uv1"), seq1: () => tg("seq1"), bench2t: async () => (await llamaBench(ref, model, 2, { tg: 128 })).tg }, Number(process.env.ROUNDS ?? 5));
console.log(`gen ${gen} prompt ${prompt} seqs ${seqs}; ${mediansAndRatios(res, "bench2t")}`);
for (const a of Object.values(apps)) await a.close();
