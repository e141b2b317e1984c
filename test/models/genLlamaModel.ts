import { writeGguf, type GgufKv, type GgufTensorSpec } from "./GgufWriter.js";
import { mulberry32 } from "../../core/mulberry32.js";

/** Llama-architecture shapes we can generate. Speed depends on the shape, not on the weight values. */
export const llamaShapes = {
  /** The default test model: a few hundred KB, loads in milliseconds. */
  tiny: { embd: 64, layers: 2, heads: 4, kvHeads: 2, ff: 128, ctx: 2048, vocab: 0 },
  /** TinyLlama 1.1B's real dimensions (22 layers, GQA 32/4, vocab 32000). */
  "tinyllama-1.1b": { embd: 2048, layers: 22, heads: 32, kvHeads: 4, ff: 5632, ctx: 2048, vocab: 32000 },
} as const;
export type LlamaShapeName = keyof typeof llamaShapes;
export type GenQuant = "F32" | "Q8_0" | "Q4_0";
const QUANT_TYPE: Record<GenQuant, number> = { F32: 0, Q8_0: 8, Q4_0: 2 };
const FILE_TYPE: Record<GenQuant, number> = { F32: 0, Q8_0: 7, Q4_0: 2 };

const rng = mulberry32;
function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
function toHalf(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0] ?? 0;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | ((u >>> 13) & 0x3ff);
}

const WORDS = (
  "the a and to was he she it they in on with for of is said big little happy day one time upon once there girl boy " +
  "dog cat sun tree park ball play friend mom dad home saw went wanted loved very red blue green fun good new run jump " +
  "look help lily tom ben sam bird fish water sky book toy box car cake smile"
).split(" ");

/**
 * A small real SentencePiece ("llama") vocabulary: <unk>, <s>, </s>, the 256
 * byte-fallback tokens, characters, and words with all their prefixes (so the
 * merge-based tokenizer can reach them). Padded with synthetic pieces to `size`.
 */
export function buildSpmVocab(size = 0): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ["<unk>", "<s>", "</s>"];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(6);
  }
  const seen = new Set(tokens);
  const add = (p: string) => {
    if (seen.has(p)) return;
    seen.add(p);
    tokens.push(p);
    types.push(1);
  };
  add("▁");
  for (const ch of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'\"-:;()") add(ch);
  for (const ch of "abcdefghijklmnopqrstuvwxyz") add(`▁${ch}`);
  for (const w of WORDS) for (let i = 2; i <= w.length; i++) add(`▁${w.slice(0, i)}`);
  const letters = "abcdefghijklmnopqrstuvwxyz";
  outer: for (const prefix of ["▁", ""]) {
    for (const x of letters) for (const y of letters) {
      if (size > 0 && tokens.length >= size) break outer;
      add(`${prefix}${x}${y}`);
    }
    for (const x of letters) for (const y of letters) for (const z of letters) {
      if (size > 0 && tokens.length >= size) break outer;
      add(`${prefix}${x}${y}${z}`);
    }
  }
  if (size === 0) tokens.splice(1024); // the tiny default keeps 1024 pieces
  types.splice(tokens.length);
  const scores = tokens.map((_t, i) => (types[i] === 1 ? -i : 0));
  return { tokens, scores, types };
}

function randomTensor(name: string, dims: number[], quant: GenQuant, scale: number, zeroRows: number[] = []): GgufTensorSpec {
  const type = QUANT_TYPE[quant];
  const seed = hash(name);
  const rowBytes = quant === "F32" ? (dims[0] ?? 0) * 4 : ((dims[0] ?? 0) / 32) * (quant === "Q8_0" ? 34 : 18);
  return {
    name, dims, type,
    fill(out, start) {
      const r = rng(seed ^ Math.floor(start / 1024));
      if (quant === "F32") {
        for (let i = 0; i < out.length; i += 4) out.writeFloatLE((r() * 2 - 1) * scale, i);
      } else {
        const bb = quant === "Q8_0" ? 34 : 18;
        const d = toHalf(quant === "Q8_0" ? scale / 127 : scale / 8);
        const words = new Uint32Array(out.buffer, out.byteOffset, Math.floor(out.length / 4));
        for (let i = 0; i < words.length; i++) words[i] = (r() * 4294967296) >>> 0;
        for (let b = 0; b < out.length; b += bb) out.writeUInt16LE(d, b);
      }
      for (const row of zeroRows) {
        const a = Math.max(row * rowBytes - start, 0);
        const z = Math.min((row + 1) * rowBytes - start, out.length);
        if (z > a) out.fill(0, a, z);
      }
    },
  };
}

function constTensor(name: string, n: number, value: number): GgufTensorSpec {
  return { name, dims: [n], type: 0, fill: (out) => { for (let i = 0; i < out.length; i += 4) out.writeFloatLE(value, i); } };
}

export interface GenLlamaOptions {
  shape?: LlamaShapeName;
  quant?: GenQuant;
  name?: string;
  /** A Jinja chat template (tokenizer.chat_template), for tests of what a model's own template enables (function calling). Defaults to none. */
  chatTemplate?: string;
}

/**
 * Writes a llama-architecture GGUF with deterministic random weights and a
 * small real SentencePiece vocabulary. The output rows of the special tokens
 * are zero, so their logit is 0 and greedy generation runs to max_tokens.
 */
export function genLlamaModel(path: string, options: GenLlamaOptions = {}): void {
  const shapeName = options.shape ?? "tiny";
  const s = llamaShapes[shapeName];
  const quant = options.quant ?? (shapeName === "tiny" ? "F32" : "Q4_0");
  const vocab = buildSpmVocab(s.vocab);
  const nVocab = vocab.tokens.length;
  const headDim = s.embd / s.heads;
  const kvDim = headDim * s.kvHeads;
  const meta: Record<string, GgufKv> = {
    "general.architecture": { type: "string", value: "llama" },
    "general.name": { type: "string", value: options.name ?? `sovereign-test-${shapeName}` },
    "general.license": { type: "string", value: "MIT" },
    "general.file_type": { type: "u32", value: FILE_TYPE[quant] },
    "llama.context_length": { type: "u32", value: s.ctx },
    "llama.embedding_length": { type: "u32", value: s.embd },
    "llama.block_count": { type: "u32", value: s.layers },
    "llama.feed_forward_length": { type: "u32", value: s.ff },
    "llama.rope.dimension_count": { type: "u32", value: headDim },
    "llama.attention.head_count": { type: "u32", value: s.heads },
    "llama.attention.head_count_kv": { type: "u32", value: s.kvHeads },
    "llama.attention.layer_norm_rms_epsilon": { type: "f32", value: 1e-5 },
    "llama.vocab_size": { type: "u32", value: nVocab },
    "tokenizer.ggml.model": { type: "string", value: "llama" },
    "tokenizer.ggml.tokens": { type: "string[]", value: vocab.tokens },
    "tokenizer.ggml.scores": { type: "f32[]", value: vocab.scores },
    "tokenizer.ggml.token_type": { type: "i32[]", value: vocab.types },
    "tokenizer.ggml.bos_token_id": { type: "u32", value: 1 },
    "tokenizer.ggml.eos_token_id": { type: "u32", value: 2 },
    "tokenizer.ggml.unknown_token_id": { type: "u32", value: 0 },
    "tokenizer.ggml.add_bos_token": { type: "bool", value: true },
    ...(options.chatTemplate ? { "tokenizer.chat_template": { type: "string" as const, value: options.chatTemplate } } : {}),
  };
  // Norms and small layers stay F32 as in real quantized files.
  const q = quant;
  const tensors: GgufTensorSpec[] = [randomTensor("token_embd.weight", [s.embd, nVocab], q, 1)];
  for (let l = 0; l < s.layers; l++) {
    const w = 1 / Math.sqrt(s.embd);
    tensors.push(
      constTensor(`blk.${l}.attn_norm.weight`, s.embd, 1),
      randomTensor(`blk.${l}.attn_q.weight`, [s.embd, s.embd], q, w),
      randomTensor(`blk.${l}.attn_k.weight`, [s.embd, kvDim], q, w),
      randomTensor(`blk.${l}.attn_v.weight`, [s.embd, kvDim], q, w),
      randomTensor(`blk.${l}.attn_output.weight`, [s.embd, s.embd], q, w),
      constTensor(`blk.${l}.ffn_norm.weight`, s.embd, 1),
      randomTensor(`blk.${l}.ffn_gate.weight`, [s.embd, s.ff], q, w),
      randomTensor(`blk.${l}.ffn_up.weight`, [s.embd, s.ff], q, w),
      randomTensor(`blk.${l}.ffn_down.weight`, [s.ff, s.embd], q, 1 / Math.sqrt(s.ff)),
    );
  }
  tensors.push(constTensor("output_norm.weight", s.embd, 1), randomTensor("output.weight", [s.embd, nVocab], q, 1, [0, 1, 2]));
  writeGguf(path, meta, tensors);
}
