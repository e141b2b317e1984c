import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";
import { testEmbedderDir, testLlamaModel } from "../models/testModelCache.js";
import { InferenceService } from "../../services/inference/InferenceService.js";
import { RunnerHost } from "../../services/inference/runner/RunnerHost.js";
import { ModelRegistry } from "../../services/inference/ModelRegistry.js";
import { RequestQueue } from "../../services/inference/RequestQueue.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("model registry, pull, upload and switching", () => {
  let t: InferenceTestApp;
  let server: Server;
  let base: string;
  let dropFirst = true;
  const tiny = readFileSync(testLlamaModel());
  const q8 = readFileSync(testLlamaModel("tiny", "Q8_0"));

  beforeAll(async () => {
    t = await startInferenceApp();
    // A local model host: /tiny.gguf honours Range; /flaky.gguf drops the connection half-way the first time.
    server = createServer((req, res) => {
      const body = req.url?.startsWith("/q8") ? q8 : tiny;
      const m = /bytes=(\d+)-/.exec(req.headers.range ?? "");
      const start = m ? Number(m[1]) : 0;
      res.writeHead(m ? 206 : 200, { "content-length": String(body.length - start), ...(m ? { "content-range": `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
      if (req.url?.startsWith("/flaky") && dropFirst) {
        dropFirst = false;
        res.write(body.subarray(start, start + 100_000));
        setTimeout(() => res.destroy(), 50);
        return;
      }
      res.end(body.subarray(start));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.close();
    await t?.close();
  });

  const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const modelsDir = () => t.app.inference.registry.dir;
  const partials = () => readdirSync(join(modelsDir(), ".partial"));

  it("records the manifest from the GGUF header", () => {
    const m = t.app.inference.registry.get("tiny");
    expect(m).toMatchObject({ kind: "llm", format: "gguf", architecture: "llama", quantization: "F32", contextLength: 2048, license: "MIT", sha256: sha(tiny), size: tiny.length });
    expect(m.parameters).toBeGreaterThan(100_000);
  });

  it("pull: resumes after a dropped connection, checks sha256, installs atomically", async () => {
    const first = await t.call("/api/models/pull", json({ url: `${base}/flaky.gguf`, sha256: sha(tiny), name: "pulled" }));
    expect(first.status).toBe(502);
    expect(t.app.inference.registry.has("pulled")).toBe(false);
    expect(existsSync(join(modelsDir(), "pulled.gguf"))).toBe(false);
    expect(partials()).toEqual([`${sha(tiny)}.part`]);
    const published: Array<{ event: string; data: { name: string | null; received: number; total: number | null } }> = [];
    const publish = t.app.liveEvents.publish;
    t.app.liveEvents.publish = (event, data) => {
      published.push({ event, data: data as (typeof published)[number]["data"] });
      publish(event, data);
    };
    const second = await t.call("/api/models/pull", json({ url: `${base}/flaky.gguf`, sha256: sha(tiny), name: "pulled" }));
    t.app.liveEvents.publish = publish;
    expect(second.status).toBe(201);
    // The Models page's progress bar is fed from the live channel; the last report is the whole file.
    const progress = published.filter((p) => p.event === "model-pull").map((p) => p.data);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ name: "pulled", received: tiny.length });
    expect(((await second.json()) as { sha256: string }).sha256).toBe(sha(tiny));
    expect(partials()).toEqual([]);
  });

  it("pull with a wrong sha256 → 422, no model and no partial file", async () => {
    const r = await t.call("/api/models/pull", json({ url: `${base}/tiny.gguf`, sha256: "0".repeat(64), name: "wrong" }));
    expect(r.status).toBe(422);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("MODEL_CHECKSUM_MISMATCH");
    expect(t.app.inference.registry.has("wrong")).toBe(false);
    expect(partials()).toEqual([]);
  });

  it("add refuses malformed and truncated GGUF files with 422 (by path: one answer, MODEL_FILE_REFUSED) and a wrong sha256", async () => {
    // Adding by path takes files from the import directories only (<dataDir>/import by default).
    const importDir = join(t.dataDir, "import");
    mkdirSync(importDir, { recursive: true });
    const garbage = join(importDir, "garbage.gguf");
    writeFileSync(garbage, Buffer.from("this is not a model at all, just text padding padding"));
    const r1 = await t.call("/api/models", json({ path: garbage }));
    expect(r1.status).toBe(422);
    expect(((await r1.json()) as { error: { code: string } }).error.code).toBe("MODEL_FILE_REFUSED");
    const cut = join(importDir, "cut.gguf");
    copyFileSync(testLlamaModel(), cut);
    truncateSync(cut, Math.floor(tiny.length * 0.7));
    const r2 = await t.call("/api/models", json({ path: cut }));
    expect(r2.status).toBe(422);
    expect(((await r2.json()) as { error: { code: string } }).error.code).toBe("MODEL_FILE_REFUSED");
    const copy = join(importDir, "tiny-copy.gguf");
    copyFileSync(testLlamaModel(), copy);
    const r3 = await t.call("/api/models", json({ path: copy, sha256: "a".repeat(64), name: "badsha" }));
    expect(r3.status).toBe(422);
    expect(((await r3.json()) as { error: { code: string } }).error.code).toBe("MODEL_CHECKSUM_MISMATCH");
    expect(t.app.inference.registry.list().map((m) => m.name).sort()).toEqual(["pulled", "tiny"]);
  });

  it("upload (multipart) installs; an interrupted upload leaves nothing", async () => {
    const form = new FormData();
    form.append("file", new Blob([q8]), "tiny-q8.gguf");
    const ok = await t.call(`/api/models/upload?name=tiny-q8&sha256=${sha(q8)}`, { method: "POST", body: form });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { quantization: string }).quantization).toBe("Q8_0");

    const port = (t.app.server.address() as AddressInfo).port;
    const boundary = "----sovereignboundary";
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: "127.0.0.1", port, method: "POST", path: "/api/models/upload?name=halfway",
        headers: { "content-type": `multipart/form-data; boundary=${boundary}`, "content-length": String(q8.length + 500), ...(t.key ? { authorization: `Bearer ${t.key}` } : {}) },
      });
      req.on("error", () => resolve());
      req.on("response", () => resolve());
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="half.gguf"\r\nContent-Type: application/octet-stream\r\n\r\n`);
      req.write(q8.subarray(0, 50_000));
      setTimeout(() => { req.destroy(); resolve(); }, 200);
    });
    for (let i = 0; i < 40 && partials().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(partials()).toEqual([]);
    expect(t.app.inference.registry.has("halfway")).toBe(false);
    expect(existsSync(join(modelsDir(), "halfway.gguf"))).toBe(false);
    const list = await t.client.models.list();
    expect(list.data.map((m) => m.id)).toContain("tiny-q8");
  });

  it("switches models without a restart", async () => {
    await t.client.completions.create({ model: "tiny", prompt: "a", max_tokens: 2 });
    expect(t.app.inference.status().loaded?.name).toBe("tiny");
    const r = await t.client.completions.create({ model: "tiny-q8", prompt: "a", max_tokens: 2 });
    expect(r.model).toBe("tiny-q8");
    expect(t.app.inference.status().loaded?.name).toBe("tiny-q8");
  });

  it("keeps the admin's default chat model across a restart of the service, and forgets it when the model is removed", async () => {
    const put = (name: string) => t.call("/api/models/default", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) });
    expect((await put("no-such-model")).status).toBe(404);
    const set = await put("pulled");
    expect(set.status).toBe(200);
    expect(((await set.json()) as { default: string }).default).toBe("pulled");
    // A request naming no model goes to the default, even after another model was used.
    await t.client.completions.create({ model: "tiny", prompt: "a", max_tokens: 2 });
    const r = await t.call("/v1/completions", json({ prompt: "a", max_tokens: 2 }));
    expect(((await r.json()) as { model: string }).model).toBe("pulled");
    // The choice lives in the manifest, so a new registry over the same folder (a restart) still has it.
    expect(new ModelRegistry(modelsDir()).getDefault()).toBe("pulled");
    const list = (await (await t.call("/api/models")).json()) as { default: string | null };
    expect(list.default).toBe("pulled");
  });

  it("verify notices a changed file; rm removes the model", async () => {
    const v1 = (await (await t.call("/api/models/verify", json({}))).json()) as { ok: boolean };
    expect(v1.ok).toBe(true);
    const path = join(modelsDir(), "pulled.gguf");
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    writeFileSync(path, bytes);
    const v2 = (await (await t.call("/api/models/verify", json({ name: "pulled" }))).json()) as { ok: boolean; results: Array<{ problem?: string }> };
    expect(v2.ok).toBe(false);
    expect(v2.results[0]?.problem).toContain("sha256");
    const del = await t.call("/api/models/pulled", { method: "DELETE" });
    expect(del.status).toBe(200);
    expect(existsSync(path)).toBe(false);
    expect((await t.call("/api/models/pulled", { method: "DELETE" })).status).toBe(404);
    // The removed model was the default: the manifest no longer names it.
    expect(t.app.inference.registry.getDefault()).toBeNull();
  });

  it("embeddings: ONNX (mean pooling, L2 norm, batching) and GGUF backends", async () => {
    await t.app.inference.registry.add(testEmbedderDir(), { name: "emb" });
    const r = await t.client.embeddings.create({ model: "emb", input: ["the happy dog", "a red ball", "the happy dog"] });
    expect(r.data).toHaveLength(3);
    const v = r.data.map((d) => d.embedding);
    expect(v[0]).toHaveLength(32);
    expect(Math.hypot(...(v[0] as number[]))).toBeCloseTo(1, 4);
    expect(v[0]).toEqual(v[2]);
    expect(v[0]).not.toEqual(v[1]);
    const f = await t.client.embeddings.create({ model: "emb", input: "the happy dog", encoding_format: "float" });
    (f.data[0]?.embedding as number[]).forEach((x, i) => expect(x).toBeCloseTo((v[0] as number[])[i] as number, 5));
    expect(r.usage.prompt_tokens).toBeGreaterThan(3);

    await t.app.inference.registry.add(testLlamaModel(), { name: "tiny-emb", kind: "embedding" });
    const g = await t.client.embeddings.create({ model: "tiny-emb", input: ["the cat", "the dog"], encoding_format: "float" });
    expect(g.data[0]?.embedding).toHaveLength(64);
    expect(Math.hypot(...(g.data[0]?.embedding as number[]))).toBeCloseTo(1, 4);
  });
});

describe("idle unload", () => {
  it("unloads after the idle time and loads again on demand", async () => {
    const t = await startInferenceApp();
    try {
      const svc = new InferenceService({
        registry: new ModelRegistry(t.app.inference.registry.dir), queue: new RequestQueue(1, 1, 10_000),
        engine: { threads: 1, contextSize: 256, sequences: 1, batchSize: 256, gpuLayers: 0 },
        embeddingThreads: 1, embeddingBatchSize: 8, defaultModel: null, embeddingModel: null, idleUnloadMs: 100, maxTokensDefault: 4,
        engines: new RunnerHost({ memoryBudgetMb: null, onQuarantine: () => undefined }),
      });
      await svc.generate({ prompt: "the dog", sampling: { maxTokens: 2 } });
      expect(svc.status().loaded?.name).toBe("tiny");
      for (let i = 0; i < 60 && svc.status().loaded; i++) await new Promise((r) => setTimeout(r, 50));
      expect(svc.status().loaded).toBeNull();
      const again = await svc.generate({ prompt: "the dog", sampling: { maxTokens: 2, temperature: 0 } });
      expect(again.completionTokens).toBe(2);
      await svc.close();
    } finally {
      await t.close();
    }
  });
});
