import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";
import { testEmbedderDir } from "../models/testModelCache.js";
import { OnnxEmbedder } from "../../services/inference/embeddings/OnnxEmbedder.js";
import { SovereignError } from "../../core/errors/SovereignError.js";

/*
 * onnxruntime-node computes synchronously on the thread that calls it. The
 * embedding model runs in a worker thread, so a large batch must leave the
 * HTTP event loop free: /healthz answers while the batch runs, and the loop's
 * longest stall stays a small part of the batch's length. (With the model on
 * the event loop, one forward pass of the whole batch stalled it for about
 * the batch's full length.)
 */
const TEXTS = 192;
const WORDS = 120;

describe("embeddings off the event loop", () => {
  let t: InferenceTestApp;

  beforeAll(async () => {
    // One forward pass for the whole batch: the worst case for a stall on the loop.
    t = await startInferenceApp({ "inference.embeddingBatchSize": TEXTS }, { install: false });
    await t.app.inference.registry.add(testEmbedderDir({ hidden: 384 }), { name: "emb" });
    const warm = await t.call("/v1/embeddings", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "emb", input: ["warm up"] }) });
    expect(warm.status).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it("a large batch runs while /healthz keeps answering and the event loop never stalls for long", async () => {
    const words = ["the", "happy", "dog", "runs", "after", "a", "red", "ball", "in", "green", "park", "while", "children", "laugh"];
    const input = Array.from({ length: TEXTS }, (_, i) => Array.from({ length: WORDS }, (_, w) => words[(i * 7 + w * 3) % words.length]).join(" "));
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const t0 = performance.now();
    let done = false;
    const batch = t
      .call("/v1/embeddings", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "emb", input, encoding_format: "base64" }) })
      .then(async (r) => {
        const body = (await r.json()) as { data: unknown[] };
        done = true;
        return { status: r.status, count: body.data.length, ms: performance.now() - t0 };
      });
    const health: Array<{ status: number; during: boolean }> = [];
    while (!done) {
      const r = await fetch(`${t.url}/healthz`);
      await r.arrayBuffer();
      health.push({ status: r.status, during: !done });
      await new Promise((res) => setTimeout(res, 20));
    }
    const result = await batch;
    delay.disable();
    const maxStallMs = delay.max / 1e6;

    expect(result).toMatchObject({ status: 200, count: TEXTS });
    expect(health.every((h) => h.status === 200)).toBe(true);
    // /healthz answered again and again while the batch was being computed.
    expect(health.filter((h) => h.during).length).toBeGreaterThanOrEqual(3);
    // The loop's longest stall is a small part of the batch's length (not a timing target: a ratio of two measurements).
    expect(maxStallMs, `longest stall ${maxStallMs.toFixed(0)} ms during a ${result.ms.toFixed(0)} ms batch`).toBeLessThan(result.ms / 4);
  }, 120_000);
});

describe("the embedding worker's lifecycle", () => {
  it("a worker that dies fails the batch it held with ENGINE_CRASHED; the next call starts a new one", async () => {
    const e = await OnnxEmbedder.load(testEmbedderDir(), { threads: 1, batchSize: 8 });
    try {
      const before = await e.embed(["the happy dog"]);
      const inFlight = e.embed(Array.from({ length: 2000 }, (_, i) => `text number ${i} about a dog that runs in the park`));
      // Stand-in for a crash of the thread: the only handle on it is private.
      await (e as unknown as { worker: Worker }).worker.terminate();
      const err = await inFlight.then(() => null, (x: unknown) => x);
      expect(err).toBeInstanceOf(SovereignError);
      expect((err as SovereignError).code).toBe("ENGINE_CRASHED");
      const after = await e.embed(["the happy dog"]);
      expect(Array.from(after.vectors[0] ?? [])).toEqual(Array.from(before.vectors[0] ?? []));
    } finally {
      await e.dispose();
    }
    await expect(e.embed(["x"])).rejects.toMatchObject({ code: "ENGINE_UNAVAILABLE" });
  }, 60_000);

  it("a model onnxruntime refuses is a MODEL_INVALID from the worker, with no worker left behind", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sov-bad-onnx-"));
    copyFileSync(join(testEmbedderDir(), "tokenizer.json"), join(dir, "tokenizer.json"));
    writeFileSync(join(dir, "model.onnx"), "not a protobuf at all");
    await expect(OnnxEmbedder.load(dir, { threads: 1 })).rejects.toMatchObject({ code: "MODEL_INVALID" });
  }, 60_000);
});
