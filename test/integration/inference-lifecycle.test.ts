import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, truncateSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";
import { testLlamaModel } from "../models/testModelCache.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface AuditLike {
  list(q: { type?: string; limit?: number }): Array<{ type: string; actor: string | null; subject: string | null; details: Record<string, unknown> }>;
}
const auditOf = (app: FastifyInstance) => (app as unknown as { audit: AuditLike }).audit;

/** A local port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("model lifecycle: malformed uploads, audit, damage after install, pull breaker", () => {
  let t: InferenceTestApp;
  const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  beforeAll(async () => {
    t = await startInferenceApp();
  });
  afterAll(async () => t?.close());

  it("answers a malformed or truncated multipart body with 400 UPLOAD_INCOMPLETE, never 500", async () => {
    const boundary = "----sovereignfuzz";
    const bodies = [
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.gguf"\r\n\r\nGGUF`, // ends inside the part
      `--${boundary}\r\n`, // ends after the first boundary
      "not multipart at all",
    ];
    for (const payload of bodies) {
      const res = await t.app.inject({
        method: "POST", url: "/api/models/upload?name=broken", payload,
        headers: { host: "localhost", authorization: `Bearer ${t.key}`, "content-type": `multipart/form-data; boundary=${boundary}` },
      });
      expect(res.statusCode, res.body).toBe(400);
      expect((res.json() as { error: { code: string } }).error.code).toBe("UPLOAD_INCOMPLETE");
    }
    expect(t.app.inference.registry.has("broken")).toBe(false);
    expect((await t.app.inject({ url: "/healthz" })).statusCode).toBe(200);
  });

  it("records audit events for model add, upload and remove, with the acting user", async () => {
    // By path only from an import directory (<dataDir>/import by default).
    const importDir = join(t.dataDir, "import");
    mkdirSync(importDir, { recursive: true });
    copyFileSync(testLlamaModel(), join(importDir, "audited.gguf"));
    const added = await t.call("/api/models", json({ path: join(importDir, "audited.gguf"), name: "audited" }));
    expect(added.status).toBe(201);
    const q8 = readFileSync(testLlamaModel("tiny", "Q8_0"));
    const form = new FormData();
    form.append("file", new Blob([q8]), "up.gguf");
    expect((await t.call(`/api/models/upload?name=uploaded&sha256=${sha(q8)}`, { method: "POST", body: form })).status).toBe(201);
    expect((await t.call("/api/models/audited", { method: "DELETE" })).status).toBe(200);

    const events = auditOf(t.app).list({ limit: 100 }).filter((e) => e.type.startsWith("model."));
    const byType = (type: string, subject: string) => events.find((e) => e.type === type && e.subject === subject);
    expect(byType("model.added", "audited")?.details).toMatchObject({ from: "path", sha256: sha(readFileSync(testLlamaModel())) });
    expect(byType("model.added", "uploaded")?.details).toMatchObject({ from: "upload", sha256: sha(q8) });
    expect(byType("model.removed", "audited")).toBeDefined();
    for (const e of events) expect(e.actor).toBeTruthy();
  });

  it("validates the GGUF again at load: a file damaged after it was added fails with 422, and the node keeps serving", async () => {
    await t.app.inference.registry.add(testLlamaModel(), { name: "damaged" });
    const path = join(t.app.inference.registry.dir, "damaged.gguf");
    truncateSync(path, Math.floor(readFileSync(path).length / 2));
    const r = await t.call("/v1/completions", json({ model: "damaged", prompt: "a", max_tokens: 2 }));
    expect(r.status).toBe(422);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("model_invalid");
    const ok = await t.call("/v1/completions", json({ model: "tiny", prompt: "a", max_tokens: 2 }));
    expect(ok.status).toBe(200);
    // Put it back so later tests can rely on a clean registry.
    copyFileSync(testLlamaModel(), path);
  });

  it("pulls through a circuit breaker: after repeated failures a dead host is refused at once (503 CIRCUIT_OPEN), and audited", async () => {
    const port = await deadPort();
    const url = `http://127.0.0.1:${port}/model.gguf`;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await t.call("/api/models/pull", json({ url, sha256: "ab".repeat(32), name: `dead-${i}` }))).status);
    expect(statuses.slice(0, 3)).toEqual([502, 502, 502]);
    expect(statuses[3]).toBe(503);
    const last = await t.call("/api/models/pull", json({ url, sha256: "ab".repeat(32), name: "dead-x" }));
    expect(((await last.json()) as { error: { code: string } }).error.code).toBe("CIRCUIT_OPEN");
    const failed = auditOf(t.app).list({ type: "model.pull_failed", limit: 10 });
    expect(failed.length).toBeGreaterThanOrEqual(4);
    expect(failed.map((e) => e.details.error)).toContain("CIRCUIT_OPEN");
  });
});

describe("inference close()", () => {
  it("lets a running generation finish (or end as aborted within its bound) before the engine is disposed", async () => {
    const t = await startInferenceApp({ "server.shutdownTimeoutMs": 400 });
    let first!: () => void;
    const started = new Promise<void>((r) => (first = r));
    const run = t.app.inference.generate({ model: "tiny", prompt: "Once upon a time", sampling: { maxTokens: 300, temperature: 0 }, onText: () => first() });
    await started;
    await t.close();
    const r = await run;
    expect(["length", "abort"]).toContain(r.finishReason);
    expect(r.text.length).toBeGreaterThan(0);
    await expect(t.app.inference.generate({ model: "tiny", prompt: "a" })).rejects.toMatchObject({ code: "SHUTTING_DOWN" });
  });
});
