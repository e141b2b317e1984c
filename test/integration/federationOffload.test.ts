import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";
import type { TestApp } from "../helpers/testApp.js";
import { testLlamaModel } from "../models/testModelCache.js";
import type { OffloadChunk } from "../../services/federation/Offload.js";
import { federatedNode, Mosquitto, pair, until } from "./federationHelpers.js";

const small = { "tuning.promptThreads": 1, "tuning.generationThreads": 1, "tuning.parallelSequences": 2, "tuning.contextSize": 512, "inference.idleUnloadMinutes": 0 };
const request = { messages: [{ role: "user" as const, content: "Once upon a time" }], maxTokens: 48, temperature: 0 };

async function collect(it: AsyncIterable<OffloadChunk>, onChunk?: (c: OffloadChunk, i: number) => void): Promise<OffloadChunk[]> {
  const out: OffloadChunk[] = [];
  for await (const c of it) {
    onChunk?.(c, out.length);
    out.push(c);
  }
  return out;
}

describe.runIf(requireTools("mosquitto"))("inference offload to a core peer (Mosquitto, real tiny llama)", () => {
  let broker: Mosquitto;
  let pi: TestApp, jetson: TestApp;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    const timeouts = { "federation.offload.firstTokenTimeoutMs": 3000, "federation.offload.idleTimeoutMs": 3000, "federation.offload.breakerThreshold": 1 };
    pi = await federatedNode("pi", broker.url, { ...small, ...timeouts });
    jetson = await federatedNode("jetson", broker.url, { ...small, ...timeouts });
    await jetson.app.inference.registry.add(testLlamaModel(), { name: "tiny" });
    await pi.app.inference.registry.add(testLlamaModel(), { name: "tiny" });
    // Runners load a model on demand (a process per model: seconds here), longer than the 3 s first-token timer below.
    await Promise.all([jetson.app.inference.load("tiny"), pi.app.inference.load("tiny")]);
    jetson.app.federation.issueManifest();
    await pair(pi, jetson, "core");
    await pair(jetson, pi, "core");
    await until(() => pi.app.federation.offload.candidates().length === 1, "the jetson to offer capacity", 30_000);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([pi, jetson].filter(Boolean).map((t) => t.close()));
    await broker?.dispose();
  });

  it("streams a generation from the peer", async () => {
    const chunks = await collect(pi.app.federation.stream(request, { prefer: "peer" }));
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.every((c) => c.source === jetson.app.identity.nodeId)).toBe(true);
    expect(jetson.app.federation.stats().offload.served).toBe(1);
  }, 60_000);

  it("ends with a clear error, not a hang, when the peer dies mid-stream", async () => {
    const J = jetson.app.identity.nodeId;
    let err: unknown;
    try {
      await collect(pi.app.federation.stream({ ...request, maxTokens: 400 }, { prefer: "peer" }), (c, i) => {
        // After the first token the peer's process drops off the network without a goodbye.
        if (i === 0 && c.source === J) jetson.app.federation.severLink();
      });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: expect.stringMatching(/^FED_OFFLOAD_(PEER_LOST|TIMEOUT)$/) });
    expect(pi.app.federation.stats().offload.failures).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("falls back to local inference when the peer fails before its first token", async () => {
    await until(() => pi.app.federation.peers().find((p) => p.nodeId === jetson.app.identity.nodeId)?.online === true, "the jetson back online", 30_000);
    pi.app.federation.offload.breaker(jetson.app.identity.nodeId).reset();
    // The jetson stops serving (offload requests are dropped): the pi's first-token timer fires.
    jetson.app.federation.setTier(pi.app.identity.nodeId, "external", "test-admin");
    const chunks = await collect(pi.app.federation.stream(request, { prefer: "peer" }));
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.every((c) => c.source === "local")).toBe(true);
    expect(pi.app.federation.stats().offload.fallbacks).toBe(1);
    // The breaker is now open for that peer, so the next request goes local at once.
    expect(pi.app.federation.offload.candidates()).toHaveLength(0);
  }, 60_000);
});
