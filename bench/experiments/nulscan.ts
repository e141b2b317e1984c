// Ad-hoc (not a bench: `npx tsx bench/experiments/nulscan.ts`): how often the generated tiny model's completions hold
// NUL or other C0 control characters (its byte-fallback tokens), which the conversation routes must take back.
import { getLlama, LlamaCompletion } from "node-llama-cpp";
import { withoutControlChars } from "../../services/memory/summarizeJob.js";
import { testLlamaModel } from "../../test/models/testModelCache.js";
const llama = await getLlama({ gpu: false, build: "never" });
const model = await llama.loadModel({ modelPath: testLlamaModel("tiny") });
const ctx = await model.createContext({ contextSize: 1024 });
const c = new LlamaCompletion({ contextSequence: ctx.getSequence() });
let nul = 0, ctrl = 0, n = 0;
for (let i = 0; i < 40; i++) {
  const t0 = Date.now();
  const t = await c.generateCompletion(`Tell me about bread ${i}`, { maxTokens: 64, temperature: 0.8, seed: i });
  n++; console.log(i, Date.now() - t0, JSON.stringify(t).slice(0, 120));
  if (t.includes("\u0000")) nul++;
  if (withoutControlChars(t) !== t) ctrl++;
}
console.log(JSON.stringify({ n, withNul: nul, withControl: ctrl }));
process.exit(0);
