// `npm run bench federation`: two nodes over Debian's Mosquitto on loopback.
// 1. signed + verified knowledge packets per second end to end (sign, outbox, MQTT QoS 1, verify, apply in SQLite);
// 2. time for the two nodes to converge on 10,000 packets produced during a partition (broker down), once it ends;
// 3. offload: added time to first token when a core peer generates instead of this node (same tiny model, same machine).
import { writeResult } from "./lib/writeResult.js";
import { federatedNode, Mosquitto, pair, until } from "../test/integration/federationHelpers.js";
import { testLlamaModel } from "../test/models/testModelCache.js";

const N = Number(process.env.BENCH_PACKETS ?? 10_000);
const log = (s: string) => process.stdout.write(`${s}\n`);
const results: Record<string, unknown> = { packets: N };
const small = { "tuning.promptThreads": 1, "tuning.generationThreads": 1, "tuning.parallelSequences": 2, "tuning.contextSize": 512, "inference.idleUnloadMinutes": 0 };

const broker = await Mosquitto.start();
const a = await federatedNode("alpha", broker.url, small);
const b = await federatedNode("bravo", broker.url, small);
try {
  await pair(a, b, "core");
  await pair(b, a, "core");
  const applied = () => b.app.federation.stats().applied;

  // 1. Throughput.
  let base = applied();
  let t = performance.now();
  for (let i = 0; i < N; i += 500) {
    a.app.federation.publish(Array.from({ length: Math.min(500, N - i) }, (_, j) => ({ type: "memory" as const, body: { n: i + j, text: "a short memory of about sixty bytes of text, typical" } })));
    await new Promise((r) => setImmediate(r));
  }
  await until(() => applied() - base >= N, "throughput packets", 600_000);
  const throughputS = (performance.now() - t) / 1000;
  results.throughputPacketsPerSecond = Math.round(N / throughputS);
  log(`throughput: ${N} packets in ${throughputS.toFixed(2)} s = ${results.throughputPacketsPerSecond}/s (target ≥ 2000/s)`);

  // 2. Convergence after a partition.
  await broker.stop();
  await until(() => !a.app.federation.connected && !b.app.federation.connected, "the partition");
  for (let i = 0; i < N; i += 500) {
    a.app.federation.publish(Array.from({ length: Math.min(500, N - i) }, (_, j) => ({ type: "summary" as const, body: { n: i + j } })));
  }
  base = applied();
  t = performance.now();
  await broker.start();
  await until(() => applied() - base >= N, "convergence", 600_000);
  const convergeS = (performance.now() - t) / 1000;
  results.convergeAfterPartitionSeconds = Number(convergeS.toFixed(2));
  results.convergeIncludesReconnect = "from broker start: includes mqtt.js reconnect (1 s period) and delta sync in signed batches";
  log(`convergence: ${N} packets in ${convergeS.toFixed(2)} s after the partition ended (includes reconnect)`);

  // 3. Offload TTFT overhead.
  await a.app.inference.registry.add(testLlamaModel(), { name: "tiny" });
  await b.app.inference.registry.add(testLlamaModel(), { name: "tiny" });
  b.app.federation.issueManifest();
  await until(() => a.app.federation.offload.candidates().length === 1, "the peer's capacity", 60_000);
  const request = { messages: [{ role: "user" as const, content: "Once upon a time" }], maxTokens: 16, temperature: 0 };
  const ttft = async (prefer: "local" | "peer") => {
    const s = performance.now();
    for await (const c of a.app.federation.stream(request, { prefer })) {
      const ms = performance.now() - s;
      if (prefer === "peer" && c.source === "local") throw new Error("offload fell back to local");
      // Drain the rest so the next run starts clean.
      for await (const _ of a.app.federation.stream({ ...request, maxTokens: 1 }, { prefer: "local" })) void _;
      return ms;
    }
    throw new Error("no tokens");
  };
  await ttft("local");
  await ttft("peer");
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const local: number[] = [];
  const peer: number[] = [];
  for (let i = 0; i < 9; i++) {
    local.push(await ttft("local"));
    peer.push(await ttft("peer"));
  }
  results.ttftLocalMedianMs = Number(median(local).toFixed(1));
  results.ttftOffloadMedianMs = Number(median(peer).toFixed(1));
  results.offloadAddedTtftMs = Number((median(peer) - median(local)).toFixed(1));
  results.offloadNote = "both nodes on this machine and the same tiny generated llama; the peer's TTFT includes MQTT request and chunk hops through Mosquitto";
  log(`offload TTFT: local ${results.ttftLocalMedianMs} ms, via peer ${results.ttftOffloadMedianMs} ms, added ${results.offloadAddedTtftMs} ms`);
} finally {
  await a.close();
  await b.close();
  await broker.dispose();
}
writeResult("federation", results);
