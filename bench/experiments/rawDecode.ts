// `npx tsx bench/experiments/rawDecode.ts` (ROUNDS=4). Ad-hoc (issue 19, single user 0.86 of llama-bench): is the
// gap in llama.cpp's decode as node-llama-cpp drives it, or in the node's own pipeline? node-llama-cpp's evaluate
// loop alone (no server, no runner), greedy, 128 tokens at 2 threads, against llama-bench 2t, interleaved; with the
// node's context shape (4 sequences x 2048) and a small one (1 x 256). For the small one it splits a token's time:
// llama.cpp's own eval time (performanceTracking), the decode as JS sees it (applyPhaseThreads' stats), the
// sampling call, and the rest between decodes.
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { interleavedRounds, mediansAndRatios } from "../../bench/lib/interleavedRounds.js";
import { llamaBench, llamaRefBinaries } from "../../bench/lib/llamaRef.js";
import { testLlamaModel } from "../../test/models/testModelCache.js";
import { applyPhaseThreads } from "../../services/inference/phaseThreads.js";
import { checkLlamaLocalBuild, skipLocalBuildOptions } from "../../hardware/llamaLocalBuild.js";

const ref = llamaRefBinaries();
const timings: string[] = [];
const modelPath = testLlamaModel("tinyllama-1.1b", "Q4_0");
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, progressLogs: false, logLevel: LlamaLogLevel.info, logger: (_l, m) => { if (/eval time|reused|sample/.test(m)) timings.push(m.trim()); }, ...skipLocalBuildOptions(checkLlamaLocalBuild(false)) });
const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true });
const prompt = model.tokenize("the happy dog ran to the park and saw a red ball near the big tree ".repeat(4));
const shapes = { nodeShape: { contextSize: 2048, sequences: 4 }, small: { contextSize: 256, sequences: 1, performanceTracking: true } } as const;
const ctxs = Object.fromEntries(await Promise.all(Object.entries(shapes).map(async ([k, s]) => [k, await model.createContext({ ...s, batchSize: 512, threads: 2 })] as const)));
async function gen(k: keyof typeof shapes): Promise<number> {
  const seq = ctxs[k]!.getSequence();
  try {
    let n = 0, t1 = 0;
    for await (const _t of seq.evaluate(prompt, { temperature: 0 })) {
      if (++n === 1) t1 = performance.now();
      if (n >= 128) break;
    }
    return (n - 1) / ((performance.now() - t1) / 1000);
  } finally {
    seq.dispose();
  }
}
const stats = applyPhaseThreads(ctxs.small!, { prompt: 2, generation: 2 }, 1)!;
// The sampling hop: node-llama-cpp samples each token in a second native call (an AsyncWorker of its own).
const nat = (ctxs.small as unknown as { _ctx: { sampleToken: (...a: unknown[]) => Promise<unknown> } })._ctx;
const sampleToken = nat.sampleToken.bind(nat);
let sampleMs = 0, samples = 0;
Object.defineProperty(nat, "sampleToken", { configurable: true, writable: true, value: async (...a: unknown[]) => {
  const t = performance.now();
  try { return await sampleToken(...a); } finally { sampleMs += performance.now() - t; samples++; }
} });
for (const k of Object.keys(shapes) as (keyof typeof shapes)[]) await gen(k);
const res = await interleavedRounds({ nodeShape: () => gen("nodeShape"), small: () => gen("small"), bench2t: async () => (await llamaBench(ref, modelPath, 2, { tg: 128 })).tg }, Number(process.env.ROUNDS ?? 4));
console.log(`small: ${stats.generationDecodes} generation decodes, ${(stats.generationDecodeMs / stats.generationDecodes).toFixed(2)} ms each as JS sees them (promise to promise); ${(stats.generationGapMs / stats.generationGaps).toFixed(2)} ms between them, of which ${(sampleMs / samples).toFixed(2)} ms in each of ${samples} sampleToken calls`);
console.log(mediansAndRatios(res, "bench2t"));
await ctxs.small!.printTimings();
await new Promise((r) => setTimeout(r, 200));
console.log(timings.join("\n"));
for (const c of Object.values(ctxs)) await c.dispose();
await model.dispose();
