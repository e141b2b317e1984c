import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";
import { testLlamaModel } from "../models/testModelCache.js";
import { addGgufKvs, patchGgufKv } from "../helpers/patchGguf.js";
import { ensureBuilt, runCli, startServe } from "../helpers/cli.js";
import { hasCommand, inCI } from "../helpers/requireTool.js";
import { ADMIN, setupCodeOf } from "./authHelpers.js";
import { ModelRegistry } from "../../services/inference/ModelRegistry.js";

/**
 * Models that describe impossible networks: refused when added (validation
 * names the key), or, for the classes validation does not know, contained
 * at load by the runner boundary. A load over the memory cap is a clear
 * error. The node keeps serving through all of it.
 */

const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const chat = (model: string) => json({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 2 });

describe("runner: impossible hyperparameters", () => {
  let t: InferenceTestApp;
  let importDir: string;
  beforeAll(async () => {
    t = await startInferenceApp();
    importDir = join(t.dataDir, "import");
    mkdirSync(importDir, { recursive: true });
  });
  afterAll(async () => t?.close());

  const refused: Array<[string, string, number]> = [
    ["heads0", "llama.attention.head_count", 0],
    ["kvheads0", "llama.attention.head_count_kv", 0],
    ["blocks0", "llama.block_count", 0],
    ["blocks-more", "llama.block_count", 7],
    ["embd", "llama.embedding_length", 32],
    ["ff0", "llama.feed_forward_length", 0],
    ["ctx0", "llama.context_length", 0],
  ];

  it("are refused at add time by path and by upload, with 422 MODEL_INVALID naming the key; nothing is installed", async () => {
    for (const [name, key, value] of refused) {
      const path = patchGgufKv(testLlamaModel(), join(importDir, `${name}.gguf`), key, value);
      const r = await t.call("/api/models", json({ path, name }));
      const body = (await r.json()) as { error: { code: string; message: string; details?: { key?: string } } };
      expect(r.status, `${name}: ${body.error.message}`).toBe(422);
      expect(body.error.code).toBe("MODEL_INVALID");
      expect(body.error.details?.key).toBe(key);
      expect(body.error.message).toContain(key);
      expect(t.app.inference.registry.has(name)).toBe(false);
    }
    const form = new FormData();
    form.append("file", new Blob([readFileSync(join(importDir, "heads0.gguf"))]), "heads0.gguf");
    const up = await t.call("/api/models/upload?name=uploaded-heads0", { method: "POST", body: form });
    expect(up.status).toBe(422);
    expect(((await up.json()) as { error: { details?: { key?: string } } }).error.details?.key).toBe("llama.attention.head_count");
    expect(t.app.inference.registry.has("uploaded-heads0")).toBe(false);
  });

  it("are refused again at load: a file made impossible after it was installed gets 422, never reaching llama.cpp", async () => {
    await t.app.inference.registry.add(testLlamaModel(), { name: "later-broken" });
    const installed = t.app.inference.registry.pathOf(t.app.inference.registry.get("later-broken"));
    patchGgufKv(installed, installed, "llama.attention.head_count_kv", 0);
    const r = await t.call("/v1/chat/completions", chat("later-broken"));
    expect(r.status).toBe(422);
    expect(((await r.json()) as { error: { code: string; message: string } }).error.message).toContain("head_count_kv");
    expect(t.app.inference.registry.get("later-broken").quarantine).toBeUndefined();
  });

  // Classes the validation does not check (found by trying: each makes llama.cpp's loader hit a GGML_ASSERT and abort).
  const beyond: Array<[string, Parameters<typeof addGgufKvs>[2], RegExp]> = [
    ["bad-rope-scaling", { "llama.rope.scaling.type": { type: "string", value: "bogus" } }, /rope_scaling_type/],
    ["bad-experts", { "llama.expert_count": { type: "u32", value: 4 } }, /n_expert_used/],
    ["bad-nextn", { "llama.nextn_predict_layers": { type: "u32", value: 9 } }, /n_layer_nextn/],
  ];

  it("beyond the validation, a file whose load aborts llama.cpp is contained: 503 engine_crashed with the assert text, quarantined, the node unharmed", { timeout: 300_000 }, async () => {
    for (const [name, extra, assertText] of beyond) {
      const path = addGgufKvs(testLlamaModel(), join(importDir, `${name}.gguf`), extra);
      const added = await t.call("/api/models", json({ path, name }));
      expect(added.status, await added.clone().text()).toBe(201);
      const r = await t.call("/v1/chat/completions", chat(name));
      const err = ((await r.json()) as { error: { code: string; message: string } }).error;
      expect(r.status, err.message).toBe(503);
      expect(err.code).toBe("engine_crashed");
      expect(err.message).toMatch(assertText);
      expect(err.message).toMatch(/SIGABRT/);
      const q = t.app.inference.registry.get(name).quarantine;
      expect(q?.signal).toBe("SIGABRT");
      expect(q?.reason).toMatch(assertText);
      // Quarantined: the next request is refused at once, without another crash.
      const again = await t.call("/v1/chat/completions", chat(name));
      expect(again.status).toBe(409);
      expect(((await again.json()) as { error: { code: string } }).error.code).toBe("model_quarantined");
      expect((await t.app.inject({ url: "/healthz" })).statusCode).toBe(200);
      const ok = await t.call("/v1/chat/completions", chat("tiny"));
      expect(ok.status).toBe(200);
    }
    // An admin can remove a quarantined model.
    expect((await t.call("/api/models/bad-nextn", { method: "DELETE" })).status).toBe(200);
  });
});

describe.runIf(hasCommand("prlimit") || inCI)("runner: a model too large for the memory cap", () => {
  let t: InferenceTestApp;
  beforeAll(async () => {
    // The smallest budget tuning allows; the TinyLlama-shaped model needs about ten times that.
    t = await startInferenceApp({ "tuning.modelRamBudgetMb": 64 });
  });
  afterAll(async () => t?.close());

  it("fails with MODEL_OUT_OF_MEMORY naming the model and what it needs; the node and the small model are unharmed", { timeout: 300_000 }, async () => {
    await t.app.inference.registry.add(testLlamaModel("tinyllama-1.1b", "Q4_0"), { name: "big" });
    const r = await t.call("/v1/chat/completions", chat("big"));
    const err = ((await r.json()) as { error: { code: string; message: string } }).error;
    expect(r.status, err.message).toBe(503);
    expect(err.code, err.message).toBe("model_out_of_memory");
    expect(err.message).toContain('"big"');
    expect(err.message).toMatch(/needs about \d+ MiB/);
    expect(err.message).toMatch(/may use 64 MiB/);
    expect(t.app.inference.registry.get("big").quarantine).toBeUndefined();
    expect(t.app.inference.status().runners.filter((p) => p.model === "big")).toEqual([]);
    expect((await t.app.inject({ url: "/healthz" })).statusCode).toBe(200);
    const ok = await t.call("/v1/chat/completions", chat("tiny"));
    expect(ok.status).toBe(200);
  });
});

describe("runner: the built node (dist) under `sovereign serve`", () => {
  beforeAll(() => ensureBuilt(), 300_000);

  it("refuses an impossible model at `model add`, chats through a compiled runner (a child of the node), and survives kill -9 of it", { timeout: 300_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sovereign-runner-serve-"));
    try {
      const bad = patchGgufKv(testLlamaModel(), join(dataDir, "bad.gguf"), "llama.block_count", 0);
      const refused = runCli(["model", "add", bad, "--data-dir", dataDir]);
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toContain("llama.block_count");
      expect(runCli(["model", "add", testLlamaModel(), "--name", "tiny", "--data-dir", dataDir]).status).toBe(0);

      const s = await startServe(["--data-dir", dataDir, "--scrypt-log-n", "14", "--generation-threads", "1", "--prompt-threads", "1", "--parallel-sequences", "1", "--context-size", "512"]);
      try {
        const claimed = await fetch(`${s.url}/api/setup/claim`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code: setupCodeOf(dataDir), ...ADMIN }) });
        expect(claimed.status, await claimed.clone().text()).toBe(201);
        const cookie = claimed.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
        const csrf = ((await claimed.json()) as { csrfToken: string }).csrfToken;
        const send = () => fetch(`${s.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", cookie, "x-csrf-token": csrf }, body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 3 }) });
        const first = await send();
        expect(first.status, `${await first.clone().text()}\n${s.logs().slice(-3000)}`).toBe(200);
        const runners = execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(s.child.pid)], { encoding: "utf8" }).split("\n").filter((l) => l.includes("runnerMain.js"));
        expect(runners).toHaveLength(1);
        execFileSync("kill", ["-9", String(Number.parseInt(runners[0] as string, 10))]);
        // The node keeps running and the next chat works (on a new runner, once it is up).
        let next = await send();
        for (let i = 0; i < 10 && next.status === 503; i++) {
          await new Promise((r) => setTimeout(r, 1000));
          next = await send();
        }
        expect(next.status, `${await next.clone().text()}\n${s.logs().slice(-3000)}`).toBe(200);
        expect(s.child.exitCode).toBeNull();
      } finally {
        expect(await s.stop()).toBe(0);
      }

      // The CLI shows a quarantine with its reason and lifts it (the node need not run).
      new ModelRegistry(join(dataDir, "models")).quarantine("tiny", { reason: "llama-model.cpp:1260: GGML_ASSERT(x) failed (the runner was killed by SIGABRT)", signal: "SIGABRT", crashes: 1 });
      const listed = runCli(["model", "list", "--data-dir", dataDir]);
      expect(listed.stdout).toMatch(/QUARANTINED since .*GGML_ASSERT\(x\) failed.*sovereign model retry tiny/);
      const retried = runCli(["model", "retry", "tiny", "--data-dir", dataDir, "--json"]);
      expect(retried.status, retried.stderr).toBe(0);
      expect((JSON.parse(retried.stdout) as { wasQuarantined: { signal: string } }).wasQuarantined.signal).toBe("SIGABRT");
      expect(runCli(["model", "list", "--data-dir", dataDir]).stdout).not.toContain("QUARANTINED");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
