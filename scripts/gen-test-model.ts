// `node --import tsx scripts/gen-test-model.ts [tiny|tinyllama-1.1b] [F32|Q8_0|Q4_0] [out.gguf]`
// Writes a deterministic random-weight llama GGUF (default: into .cache/models/). Never commit the output.
import { genLlamaModel, llamaShapes, type GenQuant, type LlamaShapeName } from "../test/models/genLlamaModel.js";
import { testLlamaModel } from "../test/models/testModelCache.js";

const [shape = "tiny", quant, out] = process.argv.slice(2);
if (!(shape in llamaShapes)) {
  process.stderr.write(`unknown shape ${shape}; one of ${Object.keys(llamaShapes).join(", ")}\n`);
  process.exit(2);
}
if (quant !== undefined && !["F32", "Q8_0", "Q4_0"].includes(quant)) {
  process.stderr.write("quant must be F32, Q8_0 or Q4_0");
  process.exit(2);
}
const t0 = Date.now();
let path: string;
if (out) {
  genLlamaModel(out, { shape: shape as LlamaShapeName, ...(quant ? { quant: quant as GenQuant } : {}) });
  path = out;
} else path = testLlamaModel(shape as LlamaShapeName, quant as GenQuant | undefined);
process.stdout.write(`${path} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
