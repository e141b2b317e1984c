import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import * as ort from "onnxruntime-node";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import type { Embedder, OnnxEmbedderOptions } from "./OnnxEmbedder.js";

/**
 * A sentence-transformer over onnxruntime-node: tokenizer.json (through
 * @huggingface/tokenizers, read locally) → input_ids, attention_mask and
 * token_type_ids when the model takes them → last hidden state → mean pooling
 * over the mask → L2 normalisation. Texts are sorted by length and batched, so
 * padding stays small. onnxruntime-node's `run` computes synchronously on the
 * calling thread, so this runs inside the embedding worker (onnxWorker.ts),
 * never on the HTTP event loop; OnnxEmbedder is the node's side of it.
 */
export class OnnxModel implements Embedder {
  dimensions: number | null = null;
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: Tokenizer,
    private readonly batchSize: number,
    private readonly maxTokens: number,
  ) {}

  /** `dir` holds model.onnx and tokenizer.json (tokenizer_config.json optional). */
  static async load(dir: string, options: OnnxEmbedderOptions): Promise<OnnxModel> {
    const modelPath = join(dir, "model.onnx");
    const tokPath = join(dir, "tokenizer.json");
    if (!existsSync(modelPath) || !existsSync(tokPath))
      throw new SovereignError("MODEL_FILE_MISSING", `An ONNX embedding model needs model.onnx and tokenizer.json in ${dir}.`);
    const cfgPath = join(dir, "tokenizer_config.json");
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(JSON.parse(readFileSync(tokPath, "utf8")), existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, "utf8")) : {});
    } catch (err) {
      throw new SovereignError("MODEL_INVALID", `The tokenizer in ${dir} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelPath, {
        intraOpNumThreads: options.threads,
        interOpNumThreads: 1,
        executionProviders: ["cpu"],
        graphOptimizationLevel: "all",
      });
    } catch (err) {
      throw new SovereignError("MODEL_INVALID", `onnxruntime refused ${modelPath}: ${(err as Error).message}`, { cause: err });
    }
    for (const input of ["input_ids", "attention_mask"])
      if (!session.inputNames.includes(input))
        throw new SovereignError("MODEL_INVALID", `The ONNX model has no "${input}" input; a sentence-transformer takes input_ids and attention_mask.`, { details: { inputs: session.inputNames } });
    return new OnnxModel(session, tokenizer, options.batchSize ?? 32, options.maxTokens ?? 512);
  }

  private tokenize(text: string): number[] {
    const ids = this.tokenizer.encode(text).ids;
    if (ids.length <= this.maxTokens) return ids;
    // Keep the trailing [SEP]-like token the post-processor added.
    return [...ids.slice(0, this.maxTokens - 1), ids[ids.length - 1] as number];
  }

  async embed(texts: readonly string[]): Promise<{ vectors: Float32Array[]; tokens: number }> {
    const encoded = texts.map((t, i) => ({ i, ids: this.tokenize(t) }));
    const tokens = encoded.reduce((n, e) => n + e.ids.length, 0);
    const order = [...encoded].sort((a, b) => a.ids.length - b.ids.length);
    const vectors: Float32Array[] = new Array<Float32Array>(texts.length);
    for (let start = 0; start < order.length; start += this.batchSize) {
      const batch = order.slice(start, start + this.batchSize);
      const out = await this.run(batch.map((b) => b.ids));
      batch.forEach((b, k) => (vectors[b.i] = out[k] as Float32Array));
    }
    return { vectors, tokens };
  }

  private async run(batch: number[][]): Promise<Float32Array[]> {
    const B = batch.length;
    const S = Math.max(1, ...batch.map((ids) => ids.length));
    const ids = new BigInt64Array(B * S);
    const mask = new BigInt64Array(B * S);
    batch.forEach((seq, b) => seq.forEach((id, s) => { ids[b * S + s] = BigInt(id); mask[b * S + s] = 1n; }));
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor("int64", ids, [B, S]),
      attention_mask: new ort.Tensor("int64", mask, [B, S]),
    };
    if (this.session.inputNames.includes("token_type_ids")) feeds.token_type_ids = new ort.Tensor("int64", new BigInt64Array(B * S), [B, S]);
    const result = await this.session.run(feeds);
    const outName = this.session.outputNames.includes("last_hidden_state") ? "last_hidden_state" : this.session.outputNames[0];
    const hidden = outName ? result[outName] : undefined;
    if (!hidden || hidden.dims.length !== 3) throw new SovereignError("MODEL_INVALID", "The ONNX model's first output is not [batch, sequence, hidden].");
    const H = Number(hidden.dims[2]);
    this.dimensions = H;
    const data = hidden.data as Float32Array;
    return batch.map((seq, b) => {
      const v = new Float32Array(H);
      const n = Math.max(1, seq.length);
      for (let s = 0; s < seq.length; s++) {
        const base = (b * S + s) * H;
        for (let h = 0; h < H; h++) v[h] = (v[h] ?? 0) + (data[base + h] ?? 0);
      }
      let norm = 0;
      for (let h = 0; h < H; h++) { v[h] = (v[h] ?? 0) / n; norm += (v[h] ?? 0) ** 2; }
      norm = Math.sqrt(norm) || 1;
      for (let h = 0; h < H; h++) v[h] = (v[h] ?? 0) / norm;
      return v;
    });
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
