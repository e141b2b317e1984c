import { SovereignError } from "../errors/SovereignError.js";
import type { GgufInfo, GgufTensor, GgufValue } from "./readGguf.js";

/**
 * Hyperparameters checked against the tensors before llama.cpp sees a file.
 * Derived from llama.cpp's loader (src/llama-model.cpp load_hparams, and each
 * architecture's load_arch_tensors in src/models/*.cpp, at the version
 * node-llama-cpp bundles), where an impossible value either trips a
 * GGML_ASSERT (an abort: block_count 0 or > 512, a head count or
 * feed-forward length of 0 giving a zero tensor dimension) or fails later
 * with a less clear message. Checked for llama, qwen2, phi3, gemma and bert;
 * other architectures get the checks that llama.cpp applies to all of them.
 * Everything else is left to the runner boundary, which contains any crash.
 */

/** llama.cpp's LLAMA_MAX_LAYERS: load_hparams asserts 0 < block_count <= this. */
const MAX_LAYERS = 512;

export interface HyperparameterProblem {
  /** The metadata key (or tensor) that is impossible. */
  key: string;
  message: string;
  expected?: unknown;
  actual?: unknown;
}

type Shape = "llama" | "qwen2" | "phi3" | "gemma" | "bert";
const CHECKED: Record<string, Shape> = { llama: "llama", qwen2: "qwen2", phi3: "phi3", gemma: "gemma", bert: "bert" };

function num(v: GgufValue | undefined): number | null {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  return null;
}

/** A per-layer value: one number for every layer, or an array of them (summaries of long arrays are unknown). */
function perLayer(v: GgufValue | undefined, layers: number): { values: number[] | null; length: number | null } {
  if (v === undefined) return { values: null, length: null };
  const n = num(v);
  if (n !== null) return { values: Array.from({ length: layers }, () => n), length: null };
  if (Array.isArray(v)) return { values: v.map((x) => num(x) ?? Number.NaN), length: v.length };
  if (typeof v === "object" && "length" in v) return { values: null, length: v.length };
  return { values: null, length: null };
}

function listLength(v: GgufValue | undefined): number | null {
  if (Array.isArray(v)) return v.length;
  if (v !== undefined && typeof v === "object" && "length" in v) return v.length;
  return null;
}

/** Every impossible hyperparameter of a parsed GGUF, in the order llama.cpp would meet them. */
export function findHyperparameterProblems(info: GgufInfo): HyperparameterProblem[] {
  const m = info.metadata;
  const arch = typeof m.get("general.architecture") === "string" ? (m.get("general.architecture") as string) : null;
  // A tokenizer-only file (no tensors) is never loaded as a model.
  if (arch === null || info.tensors.length === 0) return [];
  const problems: HyperparameterProblem[] = [];
  const add = (key: string, message: string, expected?: unknown, actual?: unknown) => problems.push({ key, message, expected, actual });
  const k = (name: string) => `${arch}.${name}`;
  const tensors = new Map<string, GgufTensor>(info.tensors.map((t) => [t.name, t]));

  // load_hparams, for every architecture.
  const blocks = num(m.get(k("block_count")));
  if (blocks === null) add(k("block_count"), `${k("block_count")} is missing.`);
  else if (!Number.isInteger(blocks) || blocks < 1 || blocks > MAX_LAYERS) add(k("block_count"), `${k("block_count")} is ${blocks}; llama.cpp needs 1 to ${MAX_LAYERS}.`, `1..${MAX_LAYERS}`, blocks);

  const shape = CHECKED[arch];
  if (!shape) return problems;

  const ctx = num(m.get(k("context_length")));
  if (ctx === null || !(ctx >= 1)) add(k("context_length"), `${k("context_length")} is ${ctx ?? "missing"}; it must be at least 1.`, ">= 1", ctx);
  const embd = num(m.get(k("embedding_length")));
  if (embd === null || !(embd >= 1)) add(k("embedding_length"), `${k("embedding_length")} is ${embd ?? "missing"}; it must be at least 1.`, ">= 1", embd);
  if (problems.length > 0 || blocks === null || embd === null) return problems;

  // The layers present as blk.N.* tensors must be exactly 0..block_count-1.
  const layersSeen = new Set<number>();
  for (const t of info.tensors) {
    const match = /^blk\.(\d+)\./.exec(t.name);
    if (match) layersSeen.add(Number(match[1]));
  }
  const highest = Math.max(-1, ...layersSeen);
  if (highest + 1 > blocks) add(k("block_count"), `${k("block_count")} is ${blocks}, but the file has tensors for ${highest + 1} blocks (blk.${highest}.*).`, highest + 1, blocks);
  else for (let i = 0; i < blocks; i++)
    if (!layersSeen.has(i)) {
      add(k("block_count"), `${k("block_count")} is ${blocks}, but the file has no tensors for block ${i} (blk.${i}.*).`, layersSeen.size, blocks);
      break;
    }

  // Vocabulary: the tokenizer's list (or <arch>.vocab_size) against token_embd and output.
  const tokens = listLength(m.get("tokenizer.ggml.tokens"));
  const vocabKey = m.has(k("vocab_size")) ? k("vocab_size") : "tokenizer.ggml.tokens";
  const vocab = m.has(k("vocab_size")) ? num(m.get(k("vocab_size"))) : tokens;
  if (vocab === null || !(vocab >= 1)) add(vocabKey, `${vocabKey} ${vocab === null ? "is missing" : `holds ${vocab} tokens`}; a model needs a vocabulary.`, ">= 1", vocab);
  const embdT = tensors.get("token_embd.weight");
  if (!embdT) add("token_embd.weight", "The tensor token_embd.weight is missing.");
  else {
    if (embdT.dims[0] !== embd) add(k("embedding_length"), `${k("embedding_length")} is ${embd}, but token_embd.weight is ${embdT.dims[0]} wide.`, embdT.dims[0], embd);
    if (vocab !== null && vocab >= 1 && (embdT.dims[1] ?? 1) !== vocab)
      add(vocabKey, `${vocabKey} gives ${vocab} tokens, but token_embd.weight has ${embdT.dims[1] ?? 1} rows.`, embdT.dims[1] ?? 1, vocab);
  }
  const out = tensors.get("output.weight");
  if (out && (out.dims[0] !== embd || (vocab !== null && (out.dims[1] ?? 1) !== vocab)))
    add("output.weight", `output.weight is ${out.dims.join("×")}; ${k("embedding_length")} and the vocabulary say ${embd}×${vocab}.`, [embd, vocab], out.dims);
  if (shape === "bert") {
    const pos = tensors.get("position_embd.weight");
    if (pos && ctx !== null && (pos.dims[1] ?? 1) !== ctx) add(k("context_length"), `${k("context_length")} is ${ctx}, but position_embd.weight holds ${pos.dims[1] ?? 1} positions.`, pos.dims[1] ?? 1, ctx);
    const types = num(m.get("tokenizer.ggml.token_type_count")) ?? num(m.get(k("token_type_count")));
    if (types !== null && types < 1) add("tokenizer.ggml.token_type_count", "tokenizer.ggml.token_type_count is 0; a bert model needs at least 1.", ">= 1", types);
  }

  // Attention heads, per layer: > 0, the KV heads divide the heads, and the projections match.
  const heads = perLayer(m.get(k("attention.head_count")), blocks);
  const kvRaw = m.get(k("attention.head_count_kv"));
  const kvHeads = kvRaw === undefined ? heads : perLayer(kvRaw, blocks);
  for (const [key, p] of [[k("attention.head_count"), heads], [k("attention.head_count_kv"), kvHeads]] as const)
    if (p.length !== null && p.length !== blocks) add(key, `${key} lists ${p.length} layers; ${k("block_count")} is ${blocks}.`, blocks, p.length);
  if (heads.values === null && m.get(k("attention.head_count")) === undefined) add(k("attention.head_count"), `${k("attention.head_count")} is missing.`);
  const keyLength = num(m.get(k("attention.key_length")));
  const valueLength = num(m.get(k("attention.value_length")));
  for (let i = 0; i < blocks && heads.values && kvHeads.values; i++) {
    const h = heads.values[i] ?? Number.NaN;
    const kv = kvHeads.values[i] ?? Number.NaN;
    if (!(h >= 1)) { add(k("attention.head_count"), `${k("attention.head_count")} is ${h} for block ${i}; it must be at least 1.`, ">= 1", h); break; }
    if (!(kv >= 1)) { add(k("attention.head_count_kv"), `${k("attention.head_count_kv")} is ${kv} for block ${i}; it must be at least 1.`, ">= 1", kv); break; }
    if (h % kv !== 0) { add(k("attention.head_count_kv"), `${k("attention.head_count_kv")} (${kv}) does not divide ${k("attention.head_count")} (${h}) for block ${i}.`, `a divisor of ${h}`, kv); break; }
    if (keyLength === null && embd % h !== 0) { add(k("attention.head_count"), `${k("embedding_length")} (${embd}) is not a multiple of ${k("attention.head_count")} (${h}).`, `a divisor of ${embd}`, h); break; }
    const headK = keyLength ?? embd / h;
    const headV = valueLength ?? embd / h;
    // qwen2, phi3 and bert project q to n_embd; llama and gemma to head size × heads.
    const qWidth = shape === "llama" || shape === "gemma" ? headK * h : embd;
    const q = tensors.get(`blk.${i}.attn_q.weight`);
    const kT = tensors.get(`blk.${i}.attn_k.weight`);
    const v = tensors.get(`blk.${i}.attn_v.weight`);
    const qkv = tensors.get(`blk.${i}.attn_qkv.weight`);
    const want = (t: GgufTensor | undefined, cols: number, what: string): boolean => {
      if (!t || (t.dims[0] === embd && (t.dims[1] ?? 1) === cols)) return true;
      add(what, `${t.name} is ${t.dims.join("×")}; the hyperparameters (${k("embedding_length")} ${embd}, ${h} heads, ${kv} KV heads) say ${embd}×${cols}.`, [embd, cols], t.dims);
      return false;
    };
    if (!want(q, qWidth, k("attention.head_count")) || !want(kT, headK * kv, k("attention.head_count_kv")) || !want(v, headV * kv, k("attention.head_count_kv"))
      || !want(qkv, qWidth + (headK + headV) * kv, k("attention.head_count_kv"))) break;
    if (shape === "llama" && i === 0) {
      const rot = num(m.get(k("rope.dimension_count")));
      if (rot !== null && rot !== headK) add(k("rope.dimension_count"), `${k("rope.dimension_count")} is ${rot}; llama needs it to equal the head size ${headK}.`, headK, rot);
    }
  }

  // Feed-forward length, per layer, against the ffn tensors (phi3's up projection is gate and up fused: twice as wide).
  const ff = perLayer(m.get(k("feed_forward_length")), blocks);
  if (ff.length !== null && ff.length !== blocks) add(k("feed_forward_length"), `${k("feed_forward_length")} lists ${ff.length} layers; ${k("block_count")} is ${blocks}.`, blocks, ff.length);
  if (m.get(k("feed_forward_length")) === undefined) add(k("feed_forward_length"), `${k("feed_forward_length")} is missing.`);
  for (let i = 0; i < blocks && ff.values; i++) {
    const f = ff.values[i] ?? Number.NaN;
    if (!(f >= 1)) { add(k("feed_forward_length"), `${k("feed_forward_length")} is ${f} for block ${i}; it must be at least 1.`, ">= 1", f); break; }
    const checks: Array<[string, number, number]> = [
      [`blk.${i}.ffn_up.weight`, embd, shape === "phi3" ? 2 * f : f],
      [`blk.${i}.ffn_gate.weight`, embd, f],
      [`blk.${i}.ffn_down.weight`, f, embd],
    ];
    const bad = checks.find(([name, a, b]) => {
      const t = tensors.get(name);
      return t !== undefined && (t.dims[0] !== a || (t.dims[1] ?? 1) !== b);
    });
    if (bad) {
      const t = tensors.get(bad[0]) as GgufTensor;
      add(k("feed_forward_length"), `${k("feed_forward_length")} is ${f}, but ${t.name} is ${t.dims.join("×")} (expected ${bad[1]}×${bad[2]}).`, [bad[1], bad[2]], t.dims);
      break;
    }
  }
  return problems;
}

/**
 * Refuses a GGUF whose hyperparameters describe an impossible model, naming
 * the key: MODEL_INVALID with the expected and actual values.
 */
export function checkHyperparameters(info: GgufInfo): void {
  const first = findHyperparameterProblems(info)[0];
  if (!first) return;
  throw new SovereignError("MODEL_INVALID", `Impossible hyperparameters: ${first.message}`, {
    details: { key: first.key, ...(first.expected !== undefined ? { expected: first.expected } : {}), ...(first.actual !== undefined ? { actual: first.actual } : {}) },
    hint: "The file describes a model that cannot exist; llama.cpp would abort or refuse it. Download or convert it again.",
  });
}
