// `npm run bench speculative` (issue 19): prompt-lookup speculative decoding (node-llama-cpp's
// InputLookupTokenPredictor) on a summarization-style prompt that the answer copies from, against
// the same generation without it. node-llama-cpp directly (LlamaCompletion, one sequence, greedy),
// interleaved round by round; medians of BENCH_ROUNDS (default 5) and the median per-round ratio.
// Models: the real stories260K (../shared/models) and the generated tiny llama (random weights:
// it copies nothing, so it shows the predictor's cost when it never wins).
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { InputLookupTokenPredictor, LlamaCompletion, type LlamaModel } from "node-llama-cpp";
import { writeResult } from "./lib/writeResult.js";
import { median } from "./lib/inferenceApp.js";
import { loadLlama } from "../services/inference/LlamaEngine.js";
import { testLlamaModel } from "../test/models/testModelCache.js";
import { resolveConfig } from "../appliance/config/resolveConfig.js";
import { detectHardware } from "../hardware/detectHardware.js";
import { tuneForConfig } from "../hardware/tuneForConfig.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MAX_TOKENS = 128;
const hardware = await detectHardware();
const tuned = tuneForConfig(hardware.facts, resolveConfig({ env: {}, flags: {} }).config);
const threads = tuned.generationThreads.value;
const log = (s: string) => process.stdout.write(`${s}\n`);
const loads: number[][] = [loadavg()];

// A "summary" that copies from its source: the source text, then the instruction and the start of the copy.
const source = "Lily had a red ball. She played with the ball in the park every day. One day the ball rolled into the pond. Lily was sad. A big duck swam to the ball and pushed it back to Lily. Lily was happy and said thank you to the duck.";
const prompt = `${source}\n\nSummary: ${source.slice(0, 40)}`;

const models = [
  { name: "stories260K", path: join(import.meta.dirname, "..", "..", "shared", "models", "stories260K.gguf") },
  { name: "tiny (generated)", path: testLlamaModel("tiny") },
].filter((m) => existsSync(m.path));

const llama = await loadLlama();
async function once(model: LlamaModel, speculative: boolean): Promise<{ tps: number; tokens: number; validated: number; refuted: number }> {
  const context = await model.createContext({ contextSize: 1024, sequences: 1, threads, batchSize: 512 });
  try {
    const sequence = context.getSequence(speculative ? { tokenPredictor: new InputLookupTokenPredictor() } : {});
    const completion = new LlamaCompletion({ contextSequence: sequence });
    let tokens = 0;
    let first = 0;
    const t0 = performance.now();
    await completion.generateCompletion(prompt, {
      maxTokens: MAX_TOKENS, temperature: 0,
      onToken: (t) => { first ||= performance.now(); tokens += t.length; },
    });
    const end = performance.now();
    const p = sequence.tokenPredictions;
    // Generation rate from the first token on (the prompt is the same in both arms).
    return { tps: tokens > 1 ? ((tokens - 1) * 1000) / (end - (first || t0)) : NaN, tokens, validated: p.validated, refuted: p.refuted };
  } finally {
    await context.dispose();
  }
}

const results: Record<string, unknown> = { rounds: ROUNDS, maxTokens: MAX_TOKENS, threads, prompt };
for (const m of models) {
  const model = await llama.loadModel({ modelPath: m.path });
  const on: Array<Awaited<ReturnType<typeof once>>> = [];
  const off: Array<Awaited<ReturnType<typeof once>>> = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which arm goes first, so drift in the machine's load hits both.
    if (r % 2) { on.push(await once(model, true)); off.push(await once(model, false)); } else { off.push(await once(model, false)); on.push(await once(model, true)); }
    log(`${m.name} round ${r + 1}: off ${off.at(-1)?.tps.toFixed(1)} t/s, on ${on.at(-1)?.tps.toFixed(1)} t/s (validated ${on.at(-1)?.validated}, refuted ${on.at(-1)?.refuted}) | load ${loadavg()[0]?.toFixed(2)}`);
  }
  await model.dispose();
  const ratio = median(on.map((x, i) => x.tps / (off[i]?.tps ?? NaN)));
  results[m.name] = {
    offTokensPerSecond: median(off.map((x) => x.tps)), onTokensPerSecond: median(on.map((x) => x.tps)),
    ratioOnOverOff: ratio, acceptance: median(on.map((x) => x.validated / Math.max(1, x.validated + x.refuted))),
    tokens: { off: off.map((x) => x.tokens), on: on.map((x) => x.tokens) },
    onByDefault: ratio > 1.2,
  };
  log(`${m.name}: speculative ÷ plain = ${ratio.toFixed(2)} (median of per-round ratios)`);
  loads.push(loadavg());
}
results.loadAverage = loads;
writeResult("speculative", results, { generationThreads: threads, promptThreads: threads, sequences: 1, engineMode: "node-llama-cpp direct" });
