import { existsSync, mkdirSync, copyFileSync, writeFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { genLlamaModel, type GenQuant, type LlamaShapeName } from "./genLlamaModel.js";
import { genOnnxEmbedder, genWordPieceTokenizer } from "./genOnnxEmbedder.js";

/** Generated models live here, outside git (.cache is ignored). Override with SOVEREIGN_MODEL_CACHE. */
export const modelCacheDir = process.env.SOVEREIGN_MODEL_CACHE ?? join(import.meta.dirname, "..", "..", ".cache", "models");

/** Where the real model files of ../shared/models are, when present. */
export const sharedModelsDir = process.env.SOVEREIGN_SHARED_MODELS ?? join(import.meta.dirname, "..", "..", "..", "shared", "models");

/** A generated llama GGUF (made once, then reused). Generation is deterministic, so the file is too. */
export function testLlamaModel(shape: LlamaShapeName = "tiny", quant?: GenQuant): string {
  mkdirSync(modelCacheDir, { recursive: true });
  const q = quant ?? (shape === "tiny" ? "F32" : "Q4_0");
  const path = join(modelCacheDir, `sovereign-${shape}-${q.toLowerCase()}.gguf`);
  if (existsSync(path)) return path;
  // Made aside and renamed: npm test runs two vitest processes, and one must never load half a file.
  const tmp = `${path}.${process.pid}.tmp`;
  genLlamaModel(tmp, { shape, quant: q });
  renameSync(tmp, path);
  return path;
}

/**
 * A generated ONNX embedder folder (model.onnx + tokenizer.json). It uses the
 * real MiniLM tokenizer when ../shared/models has it (`real: true`), else a small generated WordPiece one.
 */
export function testEmbedderDir(options: { real?: boolean; hidden?: number } = {}): string {
  const realTok = join(sharedModelsDir, "all-MiniLM-L6-v2-tokenizer");
  const useReal = options.real ?? false;
  if (useReal && !existsSync(join(realTok, "tokenizer.json"))) throw new Error(`the real MiniLM tokenizer is missing at ${realTok}`);
  const hidden = options.hidden ?? 32;
  const dir = join(modelCacheDir, `sovereign-embedder-${useReal ? "minilm" : "tiny"}-${hidden}`);
  if (existsSync(join(dir, "model.onnx"))) return dir;
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  if (useReal) {
    for (const f of ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json"])
      if (existsSync(join(realTok, f))) copyFileSync(join(realTok, f), join(tmp, f));
    genOnnxEmbedder(join(tmp, "model.onnx"), { hidden });
  } else {
    const { tokenizer, config } = genWordPieceTokenizer();
    writeFileSync(join(tmp, "tokenizer.json"), JSON.stringify(tokenizer));
    writeFileSync(join(tmp, "tokenizer_config.json"), JSON.stringify(config));
    genOnnxEmbedder(join(tmp, "model.onnx"), { hidden, vocab: Object.keys((tokenizer as { model: { vocab: object } }).model.vocab).length });
  }
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another process made it first
  }
  return dir;
}
