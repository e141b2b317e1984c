import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readGguf } from "../../core/gguf/readGguf.js";
import { checkHyperparameters, findHyperparameterProblems } from "../../core/gguf/checkHyperparameters.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import "../../services/inference/errors.js";
import { writeGguf, type GgufKv, type GgufTensorSpec } from "../models/GgufWriter.js";
import { sharedModelsDir, testLlamaModel } from "../models/testModelCache.js";
import { addGgufKvs, patchGgufKv } from "../helpers/patchGguf.js";

const dir = mkdtempSync(join(tmpdir(), "hparams-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(path: string): SovereignError | null {
  try {
    checkHyperparameters(readGguf(path));
    return null;
  } catch (err) {
    if (err instanceof SovereignError) return err;
    throw err;
  }
}

const f32 = (name: string, dims: number[]): GgufTensorSpec => ({ name, dims, type: 0, fill: (b) => b.fill(0) });

/** A small model of another architecture, shaped as llama.cpp's loader expects (sizes from src/models/<arch>.cpp). */
function archModel(arch: "qwen2" | "phi3" | "gemma" | "bert", change: Record<string, number> = {}): string {
  const embd = 64, heads = 4, kv = arch === "bert" ? 4 : 2, ff = 96, vocab = 40, layers = 2, ctx = 128;
  const head = embd / heads;
  const kvDim = head * kv;
  const meta: Record<string, GgufKv> = {
    "general.architecture": { type: "string", value: arch },
    [`${arch}.context_length`]: { type: "u32", value: ctx },
    [`${arch}.embedding_length`]: { type: "u32", value: embd },
    [`${arch}.block_count`]: { type: "u32", value: layers },
    [`${arch}.feed_forward_length`]: { type: "u32", value: ff },
    [`${arch}.attention.head_count`]: { type: "u32", value: heads },
    [`${arch}.attention.head_count_kv`]: { type: "u32", value: kv },
    "tokenizer.ggml.tokens": { type: "string[]", value: Array.from({ length: vocab }, (_v, i) => `t${i}`) },
    ...(arch === "bert" ? { "tokenizer.ggml.token_type_count": { type: "u32", value: 2 } as GgufKv } : {}),
  };
  for (const [k, v] of Object.entries(change)) meta[`${arch}.${k}`] = { type: "u32", value: v };
  const t: GgufTensorSpec[] = [f32("token_embd.weight", [embd, vocab])];
  if (arch === "bert") t.push(f32("position_embd.weight", [embd, ctx]), f32("token_embd_norm.weight", [embd]));
  else t.push(f32("output_norm.weight", [embd]));
  for (let i = 0; i < layers; i++) {
    t.push(f32(`blk.${i}.attn_q.weight`, [embd, embd]), f32(`blk.${i}.attn_k.weight`, [embd, kvDim]), f32(`blk.${i}.attn_v.weight`, [embd, kvDim]), f32(`blk.${i}.attn_output.weight`, [embd, embd]));
    t.push(f32(`blk.${i}.ffn_up.weight`, [embd, arch === "phi3" ? 2 * ff : ff]), f32(`blk.${i}.ffn_down.weight`, [ff, embd]));
    if (arch === "qwen2" || arch === "gemma") t.push(f32(`blk.${i}.ffn_gate.weight`, [embd, ff]));
  }
  const path = join(dir, `${arch}-${Object.entries(change).map(([k, v]) => `${k}${v}`).join("-") || "ok"}.gguf`);
  writeGguf(path, meta, t);
  return path;
}

describe("checkHyperparameters: impossible llama hyperparameters, each naming its key", () => {
  const base = testLlamaModel();
  const variants: Array<[string, string, number, RegExp]> = [
    ["head count 0 (llama.cpp aborts: GGML_ASSERT ne >= 1)", "llama.attention.head_count", 0, /head_count is 0/],
    ["KV head count 0 (aborts)", "llama.attention.head_count_kv", 0, /head_count_kv is 0/],
    ["KV heads not dividing the heads", "llama.attention.head_count_kv", 3, /does not divide/],
    ["block count 0 (aborts: GGML_ASSERT n_layer > 0)", "llama.block_count", 0, /block_count is 0/],
    ["block count above 512 (aborts)", "llama.block_count", 100_000, /1 to 512/],
    ["more blocks than the tensors", "llama.block_count", 7, /no tensors for block 2/],
    ["fewer blocks than the tensors", "llama.block_count", 1, /tensors for 2 blocks/],
    ["embedding length against token_embd", "llama.embedding_length", 32, /token_embd\.weight is 64 wide/],
    ["context length 0", "llama.context_length", 0, /context_length is 0/],
    ["feed-forward length 0 (aborts)", "llama.feed_forward_length", 0, /feed_forward_length is 0/],
    ["feed-forward length against the ffn tensors", "llama.feed_forward_length", 100, /ffn_up\.weight is 64×128/],
    ["vocab size against token_embd", "llama.vocab_size", 4000, /token_embd\.weight has 1024 rows/],
  ];
  it("accepts the generated model as it is", () => {
    expect(refusal(base)).toBeNull();
  });
  for (const [what, key, value, message] of variants) {
    it(`refuses ${what} with MODEL_INVALID naming ${key}`, () => {
      const path = patchGgufKv(base, join(dir, `${key}-${value}.gguf`), key, value);
      readGguf(path); // structurally still a valid file
      const e = refusal(path);
      expect(e?.code).toBe("MODEL_INVALID");
      expect(e?.status).toBe(422);
      expect(e?.message).toMatch(message);
      expect(e?.message).toContain(key === "llama.vocab_size" ? "vocab_size" : key);
      expect(e?.details?.key).toBe(key);
    });
  }
  it("refuses a vocabulary size key that disagrees with the tensors when the key is added", () => {
    const path = addGgufKvs(base, join(dir, "vocab-added.gguf"), { "llama.vocab_size": { type: "u32", value: 2000 } });
    expect(refusal(path)?.details?.key).toBe("llama.vocab_size");
  });
  it.runIf(existsSync(join(sharedModelsDir, "stories260K.gguf")))("accepts the real stories260K and refuses it with head_count 0", () => {
    const real = join(sharedModelsDir, "stories260K.gguf");
    expect(findHyperparameterProblems(readGguf(real))).toEqual([]);
    const broken = patchGgufKv(real, join(dir, "stories-heads0.gguf"), "llama.attention.head_count", 0);
    expect(refusal(broken)?.details?.key).toBe("llama.attention.head_count");
  });
  it("leaves a tokenizer-only file (no tensors) alone", () => {
    const path = join(dir, "vocab-only.gguf");
    writeGguf(path, { "general.architecture": { type: "string", value: "bert" }, "bert.block_count": { type: "u32", value: 0 } }, []);
    expect(refusal(path)).toBeNull();
  });
});

describe("checkHyperparameters: qwen2, phi3, gemma and bert shapes", () => {
  for (const arch of ["qwen2", "phi3", "gemma", "bert"] as const) {
    it(`accepts a well-formed ${arch} model`, () => {
      expect(findHyperparameterProblems(readGguf(archModel(arch)))).toEqual([]);
    });
  }
  it("qwen2: KV heads that do not divide the heads", () => {
    expect(refusal(archModel("qwen2", { "attention.head_count_kv": 3 }))?.details?.key).toBe("qwen2.attention.head_count_kv");
  });
  it("phi3: a feed-forward length that does not match the fused up projection", () => {
    const e = refusal(archModel("phi3", { feed_forward_length: 192 }));
    expect(e?.details?.key).toBe("phi3.feed_forward_length");
  });
  it("gemma: head count 0", () => {
    expect(refusal(archModel("gemma", { "attention.head_count": 0 }))?.details?.key).toBe("gemma.attention.head_count");
  });
  it("bert: a context length that the position embeddings do not hold", () => {
    const e = refusal(archModel("bert", { context_length: 512 }));
    expect(e?.details?.key).toBe("bert.context_length");
    expect(e?.message).toMatch(/position_embd\.weight holds 128/);
  });
  it("any architecture: block count 0, as llama.cpp asserts for all", () => {
    const path = join(dir, "mamba.gguf");
    writeGguf(path, { "general.architecture": { type: "string", value: "mamba" }, "mamba.block_count": { type: "u32", value: 0 } }, [f32("token_embd.weight", [32, 4])]);
    expect(refusal(path)?.details?.key).toBe("mamba.block_count");
  });
});
