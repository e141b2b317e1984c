import { writeFileSync, renameSync } from "node:fs";
import { mulberry32 } from "../../core/mulberry32.js";

/*
 * A minimal protobuf encoder for the few ONNX messages a model needs
 * (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto), so the
 * test suite can generate an embedding model with MiniLM's signature offline.
 */
function varint(n: number | bigint): Buffer {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
const int = (field: number, n: number | bigint) => Buffer.concat([key(field, 0), varint(n)]);
const bytes = (field: number, b: Buffer) => Buffer.concat([key(field, 2), varint(b.length), b]);
const str = (field: number, s: string) => bytes(field, Buffer.from(s, "utf8"));
const msg = (field: number, parts: Buffer[]) => bytes(field, Buffer.concat(parts));

const FLOAT = 1;
const INT64 = 7;

function tensor(name: string, dims: number[], dataType: number, raw: Buffer): Buffer[] {
  return [...dims.map((d) => int(1, d)), int(2, dataType), str(8, name), bytes(9, raw)];
}
function valueInfo(field: number, name: string, elemType: number, shape: Array<number | string>): Buffer {
  const dims = shape.map((d) => msg(1, [typeof d === "number" ? int(1, d) : str(2, d)]));
  return msg(field, [str(1, name), msg(2, [msg(1, [int(1, elemType), msg(2, dims)])])]);
}
function node(op: string, inputs: string[], outputs: string[], name: string, attrs: Buffer[] = []): Buffer {
  return msg(1, [...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(3, name), str(4, op), ...attrs]);
}
function intAttr(name: string, v: number): Buffer {
  // AttributeProto: name=1, i=3, type=20 (INT = 2)
  return msg(5, [str(1, name), int(3, v), int(20, 2)]);
}

function randomFloats(n: number, seed: number, scale: number): Buffer {
  const b = Buffer.alloc(n * 4);
  const next = mulberry32(seed);
  for (let i = 0; i < n; i++) b.writeFloatLE((next() * 2 - 1) * scale, i * 4);
  return b;
}

export interface GenOnnxOptions {
  /** Vocabulary size; must cover the tokenizer's ids. Defaults to 30522 (BERT uncased, MiniLM's). */
  vocab?: number;
  /** Hidden size. Defaults to 32 (MiniLM's is 384). */
  hidden?: number;
}

/**
 * Writes an ONNX model with the input/output signature of a sentence
 * transformer (all-MiniLM-L6-v2): int64 input_ids, attention_mask and
 * token_type_ids [batch, seq] → float last_hidden_state [batch, seq, hidden].
 * Body: word and type embeddings (Gather), Add, MatMul, Tanh, masked by
 * attention_mask. Deterministic random weights: correct shapes, no semantics.
 */
export function genOnnxEmbedder(path: string, options: GenOnnxOptions = {}): void {
  const V = options.vocab ?? 30522;
  const H = options.hidden ?? 32;
  const graph: Buffer[] = [
    node("Gather", ["word_embeddings", "input_ids"], ["we"], "gather_words", [intAttr("axis", 0)]),
    node("Gather", ["type_embeddings", "token_type_ids"], ["te"], "gather_types", [intAttr("axis", 0)]),
    node("Add", ["we", "te"], ["emb"], "add_types"),
    node("MatMul", ["emb", "dense"], ["proj"], "dense"),
    node("Tanh", ["proj"], ["act"], "tanh"),
    node("Cast", ["attention_mask"], ["maskf"], "cast_mask", [intAttr("to", FLOAT)]),
    node("Unsqueeze", ["maskf", "unsq_axes"], ["mask3"], "unsqueeze_mask"),
    node("Mul", ["act", "mask3"], ["last_hidden_state"], "apply_mask"),
    str(2, "sovereign-test-embedder"),
    msg(5, tensor("word_embeddings", [V, H], FLOAT, randomFloats(V * H, 1, 1))),
    msg(5, tensor("type_embeddings", [2, H], FLOAT, randomFloats(2 * H, 2, 0.1))),
    msg(5, tensor("dense", [H, H], FLOAT, randomFloats(H * H, 3, 1 / Math.sqrt(H)))),
    msg(5, tensor("unsq_axes", [1], INT64, Buffer.from(new BigInt64Array([-1n]).buffer))),
    valueInfo(11, "input_ids", INT64, ["batch", "sequence"]),
    valueInfo(11, "attention_mask", INT64, ["batch", "sequence"]),
    valueInfo(11, "token_type_ids", INT64, ["batch", "sequence"]),
    valueInfo(12, "last_hidden_state", FLOAT, ["batch", "sequence", H]),
  ];
  const model = Buffer.concat([
    int(1, 8), // ir_version
    str(2, "sovereign-node"),
    msg(7, graph),
    msg(8, [str(1, ""), int(2, 17)]), // opset_import: default domain, opset 17
  ]);
  writeFileSync(`${path}.${process.pid}.part`, model);
  renameSync(`${path}.${process.pid}.part`, path);
}

/**
 * A small BERT-style WordPiece tokenizer.json (uncased, [CLS] … [SEP]) for
 * the generated embedder when the real MiniLM tokenizer files are absent.
 */
export function genWordPieceTokenizer(): { tokenizer: object; config: object } {
  const vocab: Record<string, number> = {};
  const add = (t: string) => { if (!(t in vocab)) vocab[t] = Object.keys(vocab).length; };
  for (const t of ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]) add(t);
  for (const c of "abcdefghijklmnopqrstuvwxyz0123456789.,!?'\"-:;()") add(c);
  for (const c of "abcdefghijklmnopqrstuvwxyz0123456789") add(`##${c}`);
  for (const w of "the a and to of in is it was for on with as that this cat dog sun tree park home water book car red blue green happy small big".split(" ")) add(w);
  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
      pair: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }, { SpecialToken: { id: "[SEP]", type_id: 1 } }],
      special_tokens: { "[CLS]": { id: "[CLS]", ids: [2], tokens: ["[CLS]"] }, "[SEP]": { id: "[SEP]", ids: [3], tokens: ["[SEP]"] } },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
  };
  const config = { do_lower_case: true, model_max_length: 512, tokenizer_class: "BertTokenizer", cls_token: "[CLS]", sep_token: "[SEP]", unk_token: "[UNK]", pad_token: "[PAD]", mask_token: "[MASK]" };
  return { tokenizer, config };
}
