import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";
import type { TestApp } from "../helpers/testApp.js";
import { createPacket } from "../../services/federation/KnowledgePacket.js";
import { signManifest } from "../../services/federation/Manifest.js";
import { NodeIdentity } from "../../services/identity/NodeIdentity.js";
import { countFrom, federatedNode, Mosquitto, pair, until } from "./federationHelpers.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

describe.runIf(requireTools("mosquitto"))("federation over Mosquitto: three nodes and the trust-tier matrix", () => {
  let broker: Mosquitto;
  let a: TestApp, b: TestApp, c: TestApp, d: TestApp;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    const nodes = await Promise.all(["alpha", "bravo", "charlie", "delta"].map((n) => federatedNode(n, broker.url, { "federation.maxPayloadBytes": 16_384 })));
    [a, b, c, d] = nodes as [TestApp, TestApp, TestApp, TestApp];
    // a: b core, c sandbox, d never approved. b: a core, c external. c and d: both take a (and b) as core.
    await pair(a, b, "core");
    await pair(a, c, "sandbox");
    await pair(b, a, "core");
    await pair(b, c, "external");
    await pair(c, a, "core");
    await pair(c, b, "core");
    await pair(d, a, "core");
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a, b, c, d].filter(Boolean).map((t) => t.close()));
    await broker?.dispose();
  });

  it("applies, quarantines or drops each inbound packet by the sender's tier", async () => {
    const [pa] = a.app.federation.publish([{ type: "memory", body: { key: "favourite-colour", text: "blue" } }]);
    c.app.federation.publish([{ type: "summary", body: { text: "from the sandbox" } }]);
    d.app.federation.publish([{ type: "memory", body: { text: "from a stranger" } }]);
    b.app.federation.publish([{ type: "model-announcement", body: { model: "tiny" } }]);

    await until(() => countFrom(b, a.app.identity.nodeId, "main") === 1, "b to apply a's packet");
    await until(() => countFrom(a, c.app.identity.nodeId, "quarantine") === 1, "a to quarantine c's packet");
    await until(() => countFrom(a, b.app.identity.nodeId, "main") === 1, "a to apply b's packet");
    await until(() => b.app.federation.stats().drops.tier >= 1 && a.app.federation.stats().drops.tier >= 2, "tier drops at a and b");
    c.app.federation.syncNow(true);
    await new Promise((r) => setTimeout(r, 1000));

    expect(b.app.federation.store.isApplied(pa!.id)).toBe(true);
    // c is external to b: c's push is dropped there.
    expect(countFrom(b, c.app.identity.nodeId)).toBe(0);
    expect(countFrom(a, c.app.identity.nodeId, "quarantine")).toBe(1);
    // a sends nothing to its sandbox c, even when c asks; d is unknown to a: nothing from d lands.
    expect(countFrom(c, a.app.identity.nodeId)).toBe(0);
    expect(countFrom(c, b.app.identity.nodeId)).toBe(0);
    expect(countFrom(a, d.app.identity.nodeId)).toBe(0);
    const s = a.app.federation.stats();
    expect(s.peersByTier).toMatchObject({ core: 1, sandbox: 1, unknown: 1 });
    expect(s.quarantined).toBe(1);
  });

  it("drops malformed, oversized, unknown, forged, tampered, replayed, rolled-back and expired input, names the sender and keeps serving", async () => {
    const A = a.app.identity.nodeId;
    const B = b.app.identity.nodeId;
    const inbox = `sovereign/v1/nodes/${A}/inbox`;
    const raw = await mqtt.connectAsync(broker.url, { clientId: "intruder" });
    const before = structuredClone(a.app.federation.stats().drops);
    const firstManifest = b.app.federation.manifest();
    b.app.federation.issueManifest();
    await until(() => (a.app.federation.store.highWater(B, "manifest") ?? 0) >= b.app.federation.manifest().manifest.seq, "a to take b's new manifest");

    const stranger = NodeIdentity.loadOrCreate(mkdtempSync(join(tmpdir(), "sovereign-stranger-")));
    const forged = createPacket(stranger.privateKeyObject(), { type: "memory", author: B, seq: 999, createdAt: Date.now(), deps: [], body: { text: "forged" } });
    const good = createPacket(b.app.identity.privateKeyObject(), { type: "memory", author: B, seq: 1000, createdAt: Date.now(), deps: [], body: { text: "x" } });
    const tampered = { ...good, content: { ...good.content, body: { text: "y" } } };
    const unknownType = createPacket(b.app.identity.privateKeyObject(), { type: "memory", author: B, seq: 1001, createdAt: 1, deps: [], body: null });
    (unknownType.content as { type: string }).type = "exploit";
    const expired = signManifest({ ...firstManifest.manifest, seq: 1e9, issuedAt: Date.now() - 7200_000, expiresAt: Date.now() - 3600_000 }, b.app.identity.privateKeyObject());
    const tamperedManifest = structuredClone(b.app.federation.manifest());
    tamperedManifest.manifest.capabilities.inference.freeSlots = 64;
    tamperedManifest.manifest.seq += 10;

    const wrap = (packet: unknown) => JSON.stringify({ v: 1, kind: "packet", from: B, to: A, prev: 0, packet });
    await raw.publishAsync(inbox, Buffer.from([0xff, 0x00, 0x7b]), { qos: 1 });
    await raw.publishAsync(inbox, JSON.stringify({ v: 1, kind: "packet", from: B, to: A, pad: "x".repeat(20_000) }), { qos: 1 });
    await raw.publishAsync(inbox, JSON.stringify({ v: 1, kind: "teleport", from: B, to: A, ts: Date.now(), body: {} }), { qos: 1 });
    await raw.publishAsync(inbox, wrap(forged), { qos: 1 });
    await raw.publishAsync(inbox, wrap(tampered), { qos: 1 });
    await raw.publishAsync(inbox, wrap(unknownType), { qos: 1 });
    await raw.publishAsync(inbox, JSON.stringify({ v: 1, kind: "sync-req", from: B, to: A, ts: Date.now(), body: { since: 0 }, sig: "AAAA" }), { qos: 1 });
    await raw.publishAsync(`sovereign/v1/nodes/${B}/manifest`, JSON.stringify(firstManifest), { qos: 1 });
    await raw.publishAsync(`sovereign/v1/nodes/${B}/manifest`, JSON.stringify(expired), { qos: 1 });
    await raw.publishAsync(`sovereign/v1/nodes/${B}/manifest`, JSON.stringify(tamperedManifest), { qos: 1 });
    await raw.endAsync();

    const d0 = (k: keyof typeof before) => a.app.federation.stats().drops[k] - before[k];
    await until(() => d0("expired") >= 1 && d0("rollback") >= 1, "the manifest drops");
    expect(d0("malformed")).toBeGreaterThanOrEqual(1);
    expect(d0("oversized")).toBe(1);
    expect(d0("unknown-kind")).toBe(1);
    expect(d0("bad-signature")).toBeGreaterThanOrEqual(3);
    expect(d0("tampered")).toBe(1);
    expect(d0("unknown-type")).toBe(1);
    expect(d0("rollback")).toBe(1);
    expect(d0("expired")).toBe(1);
    expect(a.app.federation.store.isApplied(forged.id)).toBe(false);
    expect(a.app.federation.store.isApplied(good.id)).toBe(false);
    // Still serving: a fresh packet from b arrives and applies.
    const [fresh] = b.app.federation.publish([{ type: "memory", body: { text: "still alive" } }]);
    await until(() => a.app.federation.store.isApplied(fresh!.id), "a to apply b's next packet");
  });

  it("changes of tier are recorded for the audit log", () => {
    const events = a.app.federation.store.unauditedTierEvents();
    const audited = a.app.hasDecorator("audit");
    if (!audited) expect(events.length).toBeGreaterThanOrEqual(2);
    else expect(events.length).toBe(0);
  });
});
