import { afterAll, describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";
import type { TestApp } from "../helpers/testApp.js";
import { openMirrorBundle } from "../../services/federation/backupMirror.js";
import { EncryptionKey } from "../../services/federation/backupCrypto.js";
import { buildTestApp } from "../helpers/testApp.js";
import { countFrom, federatedNode, Mosquitto, pair, until } from "./federationHelpers.js";

describe.runIf(requireTools("mosquitto"))("federation sync through a broker outage (Mosquitto)", () => {
  const open: TestApp[] = [];
  let broker: Mosquitto | undefined;
  afterAll(async () => {
    await Promise.all(open.map((t) => t.close()));
    await broker?.dispose();
  });

  it("delivers everything produced while the broker was down for 30 s, across a restart of the sender: 0 lost, 0 applied twice", async () => {
    broker = await Mosquitto.start();
    let a = await federatedNode("alpha", broker.url);
    const b = await federatedNode("bravo", broker.url);
    open.push(b);
    await pair(a, b, "core");
    await pair(b, a, "core");
    const A = a.app.identity.nodeId;
    a.app.federation.publish([{ type: "memory", body: { n: 0 } }]);
    await until(() => countFrom(b, A) === 1, "the first packet");

    await broker.stop();
    await until(() => !a.app.federation.connected && !b.app.federation.connected, "both links to drop");
    const ids = new Set<string>();
    const outageEnds = Date.now() + 30_000;
    let n = 1;
    let restarted = false;
    while (Date.now() < outageEnds) {
      for (const p of a.app.federation.publish([{ type: "memory", body: { n: n++ } }, { type: "summary", body: { n: n++, key: `s${n % 5}` } }])) ids.add(p.id);
      if (!restarted && Date.now() > outageEnds - 15_000) {
        // The sender restarts mid-outage: its outbox is in SQLite.
        const dataDir = a.dataDir;
        await a.app.close();
        a = await federatedNode("alpha", broker.url, {}, dataDir);
        restarted = true;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    open.push(a);
    expect(ids.size).toBeGreaterThan(100);
    await broker.start();
    await until(() => countFrom(b, A) === ids.size + 1, `all ${ids.size + 1} packets at b`, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    const s = b.app.federation.stats();
    expect(countFrom(b, A)).toBe(ids.size + 1);
    for (const id of ids) expect(b.app.federation.store.isApplied(id)).toBe(true);
    // Applied exactly once each (duplicates, if any arrived, were recognised and not applied).
    expect(s.applied).toBe(ids.size + 1);
    expect(b.app.federation.sync.recvCursor(A)).toBe(a.app.federation.store.logHead());
  }, 150_000);
});

describe("federation on the embedded aedes broker", () => {
  const open: TestApp[] = [];
  afterAll(async () => {
    await Promise.all(open.map((t) => t.close()));
  });

  it("syncs both ways between a hosting node and a client, and mirrors a backup that only its owner can open", async () => {
    const host = await buildTestApp({
      "node.name": "host", "federation.enabled": true, "federation.broker.mode": "embedded", "federation.broker.host": "127.0.0.1",
      "federation.broker.port": 0, "federation.discovery": false, "scheduler.enabled": false,
    });
    open.push(host);
    const port = host.app.federation.brokerPort!;
    const client = await federatedNode("client", `mqtt://127.0.0.1:${port}`);
    open.push(client);
    await pair(host, client, "core");
    await pair(client, host, "core");
    const H = host.app.identity.nodeId;
    const C = client.app.identity.nodeId;
    const [p1] = host.app.federation.publish([{ type: "memory", body: { key: "k", text: "one" } }]);
    const [p2] = client.app.federation.publish([{ type: "memory", body: { key: "k", text: "two" }, deps: [p1!.id] }]);
    await until(() => countFrom(client, H) === 1 && countFrom(host, C) === 1, "packets both ways");
    expect(host.app.federation.store.isApplied(p2!.id)).toBe(true);

    const data = Buffer.from(Array.from({ length: 600_000 }, (_, i) => i % 251));
    const mirror = host.app.federation.mirrorBackup(data, "sovereign-backup.db");
    expect(mirror.chunks).toBeGreaterThan(1);
    expect(mirror.peers).toEqual([C]);
    await until(() => client.app.federation.mirrors.list(H)[0]?.complete === true, "every backup chunk at the client");
    // The client keeps the chunks as files, not in its packet table.
    const rows = client.app.federation.store.packetsFrom(H).filter((r) => r.type === "backup-chunk");
    expect(rows).toHaveLength(mirror.chunks);
    expect(rows.every((r) => r.body === "null")).toBe(true);
    const bundle = client.app.federation.mirrors.bundle(H, mirror.backupId);
    expect(JSON.stringify(bundle).includes(data.subarray(1000, 1100).toString("base64"))).toBe(false);
    expect(openMirrorBundle(bundle, EncryptionKey.loadOrCreate(host.dataDir), H).equals(data)).toBe(true);
    // The holder opens it only when it names the owner, and the bundle cannot pass for another node's.
    expect(() => openMirrorBundle(bundle, EncryptionKey.loadOrCreate(client.dataDir), C)).toThrow(expect.objectContaining({ code: "FED_MIRROR_INVALID" }));
    expect(openMirrorBundle(bundle, EncryptionKey.loadOrCreate(client.dataDir), C, H).equals(data)).toBe(true);
    expect(() => openMirrorBundle(bundle, EncryptionKey.loadOrCreate(client.dataDir), C, C)).toThrow(expect.objectContaining({ code: "FED_MIRROR_INVALID" }));
  }, 60_000);

  it("refuses clients that cannot prove a node id", async () => {
    const host = open[0]!;
    const mqtt = (await import("mqtt")).default;
    const intruder = mqtt.connect(`mqtt://127.0.0.1:${host.app.federation.brokerPort}`, { clientId: "x", reconnectPeriod: 0, username: "x", password: "y" });
    const err = await new Promise<Error>((resolve) => intruder.once("error", resolve));
    intruder.end(true);
    expect(err.message).toMatch(/Bad username or password|Not authorized|connack/i);
  });
});
