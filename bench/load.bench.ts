// Mixed API load from a second process (autocannon, bench/lib/loadClient.ts) on loopback while a
// generation runs the whole time: throughput, p50/p99, errors and the server's event-loop delay.
// `npm run bench load`. SOVEREIGN_LOAD_MODEL=stories (default tinyllama-1.1b-shaped Q4_0, generated once into the temp dir).
import { execFileSync } from "node:child_process";
import { existsSync, renameSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { AddressInfo } from "node:net";
import { buildTestApp } from "../test/helpers/testApp.js";
import { genLlamaModel } from "../test/models/genLlamaModel.js";
import { engineFactsOf, writeResult } from "./lib/writeResult.js";

const modelKind = process.env.SOVEREIGN_LOAD_MODEL ?? "tinyllama";
let modelPath = join(import.meta.dirname, "..", "..", "shared", "models", "stories260K.gguf");
if (modelKind !== "stories") {
  modelPath = join(tmpdir(), "sovereign-bench-tinyllama-q4_0.gguf");
  if (!existsSync(modelPath)) {
    console.log("load: generating a TinyLlama-1.1B-shaped Q4_0 model (once)…");
    genLlamaModel(`${modelPath}.tmp`, { shape: "tinyllama-1.1b", quant: "Q4_0", name: "bench-tinyllama" });
    renameSync(`${modelPath}.tmp`, modelPath);
  }
}

const t = await buildTestApp({ "auth.scryptLogN": 14, "inference.maxTokensDefault": 512 });
try {
  const claim = await t.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code: (await import("node:fs")).readFileSync(join(t.dataDir, "setup-code"), "utf8").trim(), username: "admin", password: "correct horse battery staple" } });
  const cookie = claim.cookies.map((c) => `${c.name}=${c.value}`).join("; ");
  const csrf = (claim.json() as { csrfToken: string }).csrfToken;
  const keyRes = await t.app.inject({ method: "POST", url: "/api/keys", headers: { host: "localhost", cookie, "x-csrf-token": csrf }, payload: { name: "load", scopes: ["chat", "memory:read", "memory:write", "models", "admin", "metrics"] } });
  const key = (keyRes.json() as { key: string }).key;
  const entry = await t.app.inference.registry.add(modelPath, { name: "load-model" });
  await t.app.inference.load(entry.name);
  for (let i = 0; i < 50; i++) t.app.audit.record({ type: "bench.seed", actor: "system", details: { i } });

  await t.app.listen({ host: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;

  // A generation runs for the whole measurement: one after another, so a slot is always busy.
  let generating = true;
  let tokens = 0;
  let generations = 0;
  const genStart = Date.now();
  const loop = (async () => {
    while (generating) {
      const r = await t.app.inference.generate({ prompt: "Once upon a time, in a quiet village by the sea,", sampling: { maxTokens: 256, temperature: 0.8 } });
      tokens += r.completionTokens;
      generations++;
    }
  })();
  await new Promise((r) => setTimeout(r, 2000));
  const loadAtStart = loadavg();

  const runClient = (rate: number, seconds: number, connections: number) => {
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      // execFileSync would block this event loop (the server's); run the client asynchronously.
      import("node:child_process").then(({ execFile }) => {
        execFile(process.execPath, ["--import", "tsx", join(import.meta.dirname, "lib", "loadClient.ts"), url, key, String(rate), String(seconds), String(connections)], { maxBuffer: 1 << 22 }, (err, stdout) => {
          loopDelay.disable();
          if (err) return reject(err);
          const res = JSON.parse(stdout.trim().split("\n").pop()!) as Record<string, unknown>;
          resolve({ ...res, eventLoopDelayMs: { p50: +(loopDelay.percentile(50) / 1e6).toFixed(1), p99: +(loopDelay.percentile(99) / 1e6).toFixed(1), max: +(loopDelay.max / 1e6).toFixed(1) } });
        });
      }, reject);
    });
  };

  console.log("load: 50 req/s for 30 s while generating…");
  const at50 = await runClient(50, 30, 10);
  console.log("load: unthrottled, 10 connections, 15 s while generating…");
  const max = await runClient(0, 15, 10);
  generating = false;
  await loop;
  const genSeconds = (Date.now() - genStart) / 1000;

  const cpuModel = execFileSync("sh", ["-c", "nproc"]).toString().trim();
  writeResult(modelKind === "stories" ? "load-stories" : "load", {
    command: modelKind === "stories" ? "SOVEREIGN_LOAD_MODEL=stories npm run bench load" : "npm run bench load",
    model: { kind: modelKind === "stories" ? "stories260K (real)" : "TinyLlama-1.1B-shaped, random Q4_0 weights", file: modelPath },
    cores: Number(cpuModel),
    during: { generations, tokens, tokensPerSecond: +(tokens / genSeconds).toFixed(2) },
    at50rps: at50,
    unthrottled: max,
    target: { p99Ms: 200, rate: 50, met: Number((at50.latencyMs as { p99: number }).p99) < 200 && at50.errors === 0 },
    loadAverage: { start: loadAtStart, end: loadavg() },
  }, engineFactsOf(t.app));
  console.log(`load: at 50 req/s p50 ${JSON.stringify(at50.latencyMs)} errors ${at50.errors} non2xx ${at50.non2xx}; unthrottled ${max.throughput} req/s`);
} finally {
  await t.close();
}
