// Helpers for bench/inference.bench.ts: an app on a data dir with one model, and streaming clients.
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { buildApp } from "../../appliance/app.js";
import { resolveConfig } from "../../appliance/config/resolveConfig.js";
import type { detectHardware } from "../../hardware/detectHardware.js";
import { tuneForConfig } from "../../hardware/tuneForConfig.js";

type Hardware = Awaited<ReturnType<typeof detectHardware>>;
type App = Awaited<ReturnType<typeof buildApp>>;

export interface BenchApp {
  app: App;
  url: string;
  key: string;
  close(): Promise<void>;
}

/** API keys of the data dirs already claimed (a node is claimed once). */
const keys = new Map<string, string>();

/** A listening app with `modelPath` installed as "m" (copied once per data dir) and an API key, at `threads` threads and one sequence; `flags` set more settings (inference.engineMode). */
export async function openBenchApp(dataDir: string, modelPath: string, threads: number, hardware: Hardware, flags: Record<string, unknown> = {}): Promise<BenchApp> {
  const { config } = resolveConfig({
    env: {},
    flags: {
      "paths.dataDir": dataDir, "log.level": "silent", "tuning.promptThreads": threads, "tuning.generationThreads": threads,
      "tuning.parallelSequences": 1, "tuning.contextSize": 2048, "tuning.batchSize": 512, "inference.idleUnloadMinutes": 0,
      ...flags,
    },
  });
  const app = await buildApp({ config, hardware, tuning: tuneForConfig(hardware.facts, config), logger: false });
  await app.ready();
  const fresh = !existsSync(join(dataDir, "models", "m.gguf")) && !app.inference.models().some((m) => m.name === "m");
  if (fresh) await app.inference.registry.add(modelPath, { name: "m" });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  let key = keys.get(dataDir) ?? "";
  if (!key && app.hasDecorator("auth")) {
    const auth = (app as unknown as { auth: { hashPassword(p: string): Promise<string>; users: { claim(u: string, h: string): { id: string } }; keys: { create(i: object): { secret: string } } } }).auth;
    const admin = auth.users.claim("bench", await auth.hashPassword("bench password for the run"));
    key = auth.keys.create({ userId: admin.id, name: "bench", scopes: ["chat", "models"], expiresAt: null }).secret;
    keys.set(dataDir, key);
  }
  await app.inference.load("m");
  return { app, url, key, close: () => app.close() };
}

export interface Streamed {
  /** Time to the first content chunk. */
  ttftMs: number;
  /** Generation tokens/s between the first and the last chunk. */
  tgTps: number;
  tokens: number;
  /** Prompt tokens, from the usage chunk (0 when the server sends none). */
  promptTokens: number;
}

/** Streams one request; times the first chunk and the generation between first and last chunk. */
export async function stream(b: BenchApp, path: string, body: object): Promise<Streamed> {
  const start = performance.now();
  const r = await fetch(`${b.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(b.key ? { authorization: `Bearer ${b.key}` } : {}) },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
  });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  const reader = (r.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let first = 0;
  let last = 0;
  let buf = "";
  let tokens = 0;
  let promptTokens = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const chunk = dec.decode(value, { stream: true });
    buf += chunk;
    const now = performance.now();
    // This read's own non-empty text, not buf's: buf still holds earlier tokens when the finish and usage chunks
    // arrive, and the opening and finish chunks carry an empty text; either would move `first` or `last` off a token.
    if (/"(?:content|text)":"[^"]/.test(chunk)) {
      first ||= now;
      last = now;
    }
    const m = /"completion_tokens":(\d+)/.exec(buf);
    if (m) tokens = Number(m[1]);
    const pm = /"prompt_tokens":(\d+)/.exec(buf);
    if (pm) promptTokens = Number(pm[1]);
    if (buf.length > 4096) buf = buf.slice(-512);
  }
  return { ttftMs: first - start, tgTps: ((tokens - 1) * 1000) / (last - first), tokens, promptTokens };
}

/** Hammers GET /healthz with `concurrency` clients until stopped: the "web server under load" of a busy node. */
export function healthLoad(b: BenchApp, concurrency = 4): { stop(): Promise<{ requests: number; perSecond: number; p99Ms: number }> } {
  let running = true;
  const lat: number[] = [];
  const t0 = performance.now();
  const worker = async () => {
    while (running) {
      const t = performance.now();
      const r = await fetch(`${b.url}/healthz`);
      await r.arrayBuffer();
      lat.push(performance.now() - t);
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      const s = [...lat].sort((x, y) => x - y);
      return { requests: s.length, perSecond: (s.length * 1000) / (performance.now() - t0), p99Ms: s[Math.floor(s.length * 0.99)] ?? 0 };
    },
  };
}

export function median(a: readonly number[]): number {
  const s = a.filter(Number.isFinite).sort((x, y) => x - y);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
