import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";

/**
 * The runner boundary under faults: llama.cpp runs in supervised child
 * processes, so a killed, stopped or aborting runner costs the requests on
 * it, never the node. Bounds on time are generous and only say "it was
 * detected"; speed is measured in bench/.
 */

const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls /healthz until stopped; every answer's status is kept. */
function watchHealth(t: InferenceTestApp): { stop(): Promise<number[]> } {
  const statuses: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        statuses.push((await fetch(`${t.url}/healthz`)).status);
      } catch {
        statuses.push(0);
      }
      await sleep(50);
    }
  })();
  return { stop: async () => { running = false; await loop; return statuses; } };
}

function runnerOf(t: InferenceTestApp, model: string) {
  return t.app.inference.status().runners.find((r) => r.model === model && r.kind === "llm");
}

async function waitFor<T>(what: string, f: () => T | undefined | null | false, boundMs: number): Promise<T> {
  const until = Date.now() + boundMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > until) throw new Error(`${what}: not within ${boundMs} ms`);
    await sleep(100);
  }
}

describe("runner: SIGKILL and SIGSTOP of a runner", () => {
  let t: InferenceTestApp;
  beforeAll(async () => {
    t = await startInferenceApp();
    await t.app.inference.load("tiny");
  });
  afterAll(async () => t?.close());

  it("runs llama.cpp outside the node: the model lives in a runner process", () => {
    const s = t.app.inference.status();
    expect(s.engineMode).toBe("runner");
    const r = runnerOf(t, "tiny");
    expect(r?.pid).toBeGreaterThan(0);
    expect(r?.pid).not.toBe(process.pid);
    expect(r?.rssBytes).toBeGreaterThan(0);
  });

  it("SIGKILL in the middle of a streaming chat: the client gets an SSE error event then [DONE], /healthz answers 200 throughout, the next chat works", { timeout: 180_000 }, async () => {
    const health = watchHealth(t);
    const res = await t.call("/v1/chat/completions", json({ model: "tiny", messages: [{ role: "user", content: "Tell me a long story" }], max_tokens: 400, temperature: 0, stream: true }));
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const dec = new TextDecoder();
    let body = "";
    let killed: number | null = null;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      body += dec.decode(value);
      if (killed === null && (body.match(/"content":"[^"]/g)?.length ?? 0) >= 2) {
        killed = runnerOf(t, "tiny")?.pid ?? null;
        expect(killed).not.toBeNull();
        process.kill(killed as number, "SIGKILL");
      }
    }
    const events = body.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
    expect(events.at(-1)).toBe("[DONE]");
    const error = JSON.parse(events.at(-2) as string) as { error?: { code: string; type: string; message: string } };
    expect(error.error?.code).toBe("engine_crashed");
    expect(error.error?.type).toBe("server_error");
    expect(error.error?.message).toMatch(/SIGKILL/);

    const next = await t.call("/v1/chat/completions", json({ model: "tiny", messages: [{ role: "user", content: "hello" }], max_tokens: 4, temperature: 0 }));
    expect(next.status, await next.clone().text()).toBe(200);
    expect(((await next.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(4);
    const statuses = await health.stop();
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200), `healthz statuses: ${statuses.join(",")}`).toBe(true);
    const now = runnerOf(t, "tiny");
    expect(now?.pid).not.toBe(killed);
    expect(now?.restarts).toBeGreaterThanOrEqual(1);
    // One crash, then a success: the model is not quarantined.
    expect(t.app.inference.registry.get("tiny").quarantine).toBeUndefined();
  });

  it("a non-streaming request in flight when its runner dies gets 503 engine_crashed with Retry-After", { timeout: 180_000 }, async () => {
    const pending = t.call("/v1/completions", json({ model: "tiny", prompt: "Once upon a time", max_tokens: 400, temperature: 0 }));
    const pid = (await waitFor("a busy runner", () => { const r = runnerOf(t, "tiny"); return r && r.busy > 0 ? r.pid : null; }, 30_000));
    process.kill(pid, "SIGKILL");
    const res = await pending;
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("engine_crashed");
    const ok = await t.call("/v1/completions", json({ model: "tiny", prompt: "a", max_tokens: 2 }));
    expect(ok.status).toBe(200);
  });

  it("SIGSTOP: the stopped runner misses its heartbeat, is killed and replaced within a bounded time, and serves again", { timeout: 180_000 }, async () => {
    const before = await waitFor("a ready runner", () => runnerOf(t, "tiny"), 30_000);
    process.kill(before.pid, "SIGSTOP");
    const replaced = await waitFor("a new runner after SIGSTOP", () => { const r = runnerOf(t, "tiny"); return r && r.pid !== before.pid && r.state === "ready" ? r : null; }, 30_000);
    expect(replaced.pid).not.toBe(before.pid);
    expect(() => process.kill(before.pid, 0)).toThrow(); // the stopped one is gone, not left behind
    const res = await t.call("/v1/completions", json({ model: "tiny", prompt: "the dog", max_tokens: 3, temperature: 0 }));
    expect(res.status).toBe(200);
    expect((await t.app.inject({ url: "/healthz" })).statusCode).toBe(200);
  });
});

describe("runner: slower to start than inference.runnerStartTimeoutSeconds", () => {
  let t: InferenceTestApp;
  let dir: string;
  beforeAll(async () => {
    t = await startInferenceApp({ "inference.runnerStartTimeoutSeconds": 15 });
    dir = mkdtempSync(join(tmpdir(), "sov-slow-runner-"));
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the request gets 503 engine_unavailable naming the bound, the slow runner is killed, the node keeps serving, and the next request starts another", { timeout: 180_000 }, async () => {
    // A real delay before the runner's own code runs: Node preloads this file (NODE_OPTIONS, which a fork inherits)
    // and blocks 60 s, as a first start on a slow disk under load did (an emulated guest: over 60 s). The bound is
    // 15 s, not less: the next request's runner must start within it (at 5 s, with two qemu guests running beside, it once did not).
    const slow = join(dir, "slow-start.cjs");
    const pidFile = join(dir, "slow-pids");
    writeFileSync(slow, `require("node:fs").appendFileSync(${JSON.stringify(pidFile)}, process.pid + "\\n"); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);\n`);
    const before = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = `${before ?? ""} --require ${slow}`.trim();
    const health = watchHealth(t);
    const t0 = Date.now();
    let res: Response;
    try {
      res = await t.call("/v1/chat/completions", json({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 2 }));
    } finally {
      if (before === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = before;
    }
    const waited = Date.now() - t0;
    expect(res.status).toBe(503);
    const error = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("engine_unavailable");
    expect(error.message).toBe("A runner did not start within 15 s.");
    expect(waited).toBeGreaterThanOrEqual(15_000);
    expect(waited).toBeLessThan(60_000); // the bound ended the wait, not the runner's own 60 s
    // The runner that was too slow is gone, not left to finish its start beside the next one.
    const slowPids = readFileSync(pidFile, "utf8").trim().split("\n").map(Number);
    expect(slowPids.length).toBeGreaterThan(0);
    await waitFor("the slow runner killed", () => slowPids.every((pid) => { try { process.kill(pid, 0); return false; } catch { return true; } }), 10_000);
    const ok = await t.call("/v1/chat/completions", json({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 2 }));
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect((await health.stop()).every((s) => s === 200)).toBe(true);
  });
});

describe("runner: five crash loops of one model", () => {
  let t: InferenceTestApp;
  beforeAll(async () => {
    // Fault injection, for this test only: a runner aborts (SIGABRT) when asked to generate with a model whose file name holds "crashloop".
    process.env.SOVEREIGN_FAULT_INJECT_RUNNER = "abort-on-generate:crashloop";
    t = await startInferenceApp();
    const tiny = t.app.inference.registry.pathOf(t.app.inference.registry.get("tiny"));
    await t.app.inference.registry.add(tiny, { name: "crashloop" });
  });
  afterAll(async () => {
    delete process.env.SOVEREIGN_FAULT_INJECT_RUNNER;
    await t?.close();
  });

  it("is quarantined after five crashes with the reason, with no restart storm, while other models keep working", { timeout: 300_000 }, async () => {
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await t.call("/v1/chat/completions", json({ model: "crashloop", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }));
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect(r.status, body.error.message).toBe(503);
      expect(body.error.code, body.error.message).toBe("engine_crashed");
      codes.push(body.error.code);
    }
    expect(codes).toHaveLength(5);
    const entry = t.app.inference.registry.get("crashloop");
    expect(entry.quarantine).toMatchObject({ signal: "SIGABRT", crashes: 5 });
    expect(entry.quarantine?.reason).toMatch(/SIGABRT/);

    // Quarantined: refused at once, with the reason, and no runner is started for it any more.
    const sixth = await t.call("/v1/chat/completions", json({ model: "crashloop", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }));
    expect(sixth.status).toBe(409);
    const err = ((await sixth.json()) as { error: { code: string; message: string } }).error;
    expect(err.code).toBe("model_quarantined");
    expect(err.message).toMatch(/SIGABRT/);
    await sleep(2000);
    expect(runnerOf(t, "crashloop")).toBeUndefined();

    // The API shows it; it is never the default; other models are unaffected.
    const listed = (await (await t.call("/v1/models")).json()) as { data: Array<{ id: string; quarantined?: { reason: string } }> };
    expect(listed.data.find((m) => m.id === "crashloop")?.quarantined?.reason).toMatch(/SIGABRT/);
    expect(listed.data.find((m) => m.id === "tiny")?.quarantined).toBeUndefined();
    const admin = (await (await t.call("/api/models")).json()) as { models: Array<{ name: string; quarantine?: object }> };
    expect(admin.models.find((m) => m.name === "crashloop")?.quarantine).toBeDefined();
    expect((await t.call("/api/models/default", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "crashloop" }) })).status).toBe(409);
    expect(t.app.inference.resolveModel("llm").name).toBe("tiny");
    const ok = await t.call("/v1/chat/completions", json({ messages: [{ role: "user", content: "hi" }], max_tokens: 2 }));
    expect(ok.status).toBe(200);
    expect((await t.app.inject({ url: "/healthz" })).statusCode).toBe(200);

    // An admin retries it: the quarantine is lifted and the model loads again (it loads fine; it crashes when generating).
    const retried = await t.call("/api/models/crashloop/retry", { method: "POST" });
    expect(retried.status, await retried.clone().text()).toBe(200);
    expect(t.app.inference.registry.get("crashloop").quarantine).toBeUndefined();
  });
});
