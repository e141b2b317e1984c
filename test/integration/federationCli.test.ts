import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Database } from "../../services/db/Database.js";
import { FederationStore } from "../../services/federation/FederationStore.js";
import { NodeIdentity } from "../../services/identity/NodeIdentity.js";
import type { Manifest } from "../../services/federation/Manifest.js";
import { sourceCli } from "../helpers/cli.js";

const cli = (...args: string[]) => sourceCli(args);

describe("sovereign peer", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sovereign-peer-cli-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("lists, approves by fingerprint, changes tier and removes, recording each change for the audit log", () => {
    const other = NodeIdentity.loadOrCreate(mkdtempSync(join(tmpdir(), "sovereign-peer-other-")));
    const db = new Database(join(dataDir, "sovereign.db"));
    const store = new FederationStore(db);
    const now = Date.now();
    const m: Manifest = {
      v: 1, nodeId: other.nodeId, name: "jetson", publicKey: other.publicKeyBase64, encryptionKey: Buffer.alloc(32).toString("base64"),
      capabilities: { hardware: { arch: "arm64", model: null, cpuModel: null, cores: 8, memoryBytes: 1, gpu: null }, models: [], inference: { available: false, parallel: 0, queueDepth: 0, freeSlots: 0 } },
      endpoints: { http: [], mqtt: [] }, seq: 1, issuedAt: now, expiresAt: now + 60_000, logHead: 0,
    };
    store.recordManifest(m, now);
    db.close();

    const listed = JSON.parse(cli("peer", "list", "--json", "--data-dir", dataDir)) as Array<{ nodeId: string; tier: string; fingerprint: string }>;
    expect(listed).toMatchObject([{ nodeId: other.nodeId, tier: "unknown", fingerprint: other.fingerprint }]);
    expect(() => cli("peer", "approve", other.nodeId.slice(0, 6), "AAAA-BBBB-CCCC-DDDD", "--data-dir", dataDir)).toThrow(/fingerprint does not match/);
    expect(JSON.parse(cli("peer", "approve", other.nodeId.slice(0, 6), other.fingerprint.toLowerCase(), "--tier", "core", "--json", "--data-dir", dataDir))).toMatchObject({ tier: "core", from: "unknown" });
    expect(JSON.parse(cli("peer", "tier", other.fingerprint, "sandbox", "--json", "--data-dir", dataDir))).toMatchObject({ tier: "sandbox", from: "core" });
    expect(() => cli("peer", "tier", other.nodeId, "overlord", "--data-dir", dataDir)).toThrow(/not a trust tier/);
    expect(JSON.parse(cli("peer", "remove", other.nodeId, "--json", "--data-dir", dataDir))).toEqual({ removed: other.nodeId });

    const db2 = new Database(join(dataDir, "sovereign.db"));
    const events = new FederationStore(db2).unauditedTierEvents();
    db2.close();
    expect(events.map((e) => [e.fromTier, e.toTier])).toEqual([["unknown", "core"], ["core", "sandbox"], ["sandbox", "unknown"]]);
    expect(events.every((e) => e.actor.startsWith("console"))).toBe(true);
  }, 60_000);
});
