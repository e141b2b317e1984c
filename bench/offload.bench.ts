// `npm run bench offload`: the time-to-first-token cost of a chat turn offloaded to a core peer against a local one,
// through the real route (POST /v1/chat/completions, streaming, over HTTP with an API key), two nodes on
// Debian's Mosquitto on loopback. The same generated tiny llama answers both ways: the pi has it as "tiny",
// the jetson as "story", so "tiny" runs on the pi and "story" (which the pi lacks) is offloaded to the jetson.
// Rounds alternate local and offloaded requests, so both see the same machine load; medians and their ratio.
import { loadavg } from "node:os";
import { testLlamaModel } from "../test/models/testModelCache.js";
import { Mosquitto, pair, until } from "../test/integration/federationHelpers.js";
import { startInferenceApp, type InferenceTestApp } from "../test/integration/inferenceFixtures.js";
import { writeResult } from "./lib/writeResult.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const log = (s: string) => process.stdout.write(`${s}\n`);

function node(name: string, brokerUrl: string): Promise<InferenceTestApp> {
  return startInferenceApp({
    "node.name": name, "federation.enabled": true, "federation.broker.mode": "external", "federation.broker.url": brokerUrl,
    "federation.discovery": false, "scheduler.enabled": false, "log.level": "silent",
  });
}

/** Milliseconds from sending the request to the first content delta, and who served it (the response header). */
async function ttft(t: InferenceTestApp, model: string): Promise<{ ms: number; servedBy: string }> {
  const start = performance.now();
  const res = await t.call("/v1/chat/completions", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 16, temperature: 0, stream: true }),
  });
  if (res.status !== 200 || !res.body) throw new Error(`${model}: HTTP ${res.status} ${await res.text()}`);
  const servedBy = res.headers.get("x-sovereign-served-by") ?? "?";
  const decoder = new TextDecoder();
  let buffer = "";
  let ms: number | null = null;
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    if (ms === null && /"delta":\{"content":"[^"]/.test(buffer)) ms = performance.now() - start;
  }
  if (ms === null) throw new Error(`${model}: no content`);
  return { ms, servedBy };
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

const broker = await Mosquitto.start();
const pi = await node("pi", broker.url);
const jetson = await node("jetson", broker.url);
try {
  await jetson.app.inference.registry.add(testLlamaModel(), { name: "story" });
  jetson.app.federation.issueManifest();
  await pair(pi, jetson, "core");
  await pair(jetson, pi, "core");
  await until(() => pi.app.federation.offload.peerFor("story") !== null, "the jetson to offer 'story'", 60_000);
  const J = jetson.app.identity.nodeId;
  // Warm both paths: runners loaded, KV caches allocated.
  await ttft(pi, "tiny");
  await ttft(pi, "story");
  const loadBefore = loadavg()[0]!;
  const local: number[] = [];
  const offloaded: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const l = await ttft(pi, "tiny");
    const o = await ttft(pi, "story");
    if (l.servedBy !== "local" || o.servedBy !== J) throw new Error(`round ${i}: served by ${l.servedBy} and ${o.servedBy}`);
    local.push(l.ms);
    offloaded.push(o.ms);
  }
  const lm = median(local);
  const om = median(offloaded);
  const results = {
    rounds: ROUNDS,
    ttftLocalMedianMs: Number(lm.toFixed(1)),
    ttftOffloadedMedianMs: Number(om.toFixed(1)),
    offloadAddedTtftMs: Number((om - lm).toFixed(1)),
    offloadTtftRatio: Number((om / lm).toFixed(2)),
    ttftLocalMs: local.map((x) => Number(x.toFixed(1))),
    ttftOffloadedMs: offloaded.map((x) => Number(x.toFixed(1))),
    engineMode: pi.app.inference.status().engineMode,
    loadAverage1m: { before: Number(loadBefore.toFixed(2)), after: Number(loadavg()[0]!.toFixed(2)) },
    note: "both nodes in one process on this machine with the same generated tiny llama; TTFT from the HTTP request to the first content chunk of POST /v1/chat/completions (stream); the offloaded turn adds the offload decision, signed MQTT request and chunk hops through Mosquitto and the peer's queue",
  };
  log(`offload TTFT (median of ${ROUNDS}): local ${results.ttftLocalMedianMs} ms, offloaded ${results.ttftOffloadedMedianMs} ms, added ${results.offloadAddedTtftMs} ms, ratio ${results.offloadTtftRatio}`);
  writeResult("offload", results);
} finally {
  await pi.close();
  await jetson.close();
  await broker.dispose();
}
