import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Database } from "../../services/db/Database.js";
import { NodeIdentity } from "../../services/identity/NodeIdentity.js";
import { EncryptionKey, openSealed, sealTo } from "../../services/federation/backupCrypto.js";
import { canonicalJson } from "../../core/canonicalJson.js";
import { FederationStore } from "../../services/federation/FederationStore.js";
import { createPacket, verifyPacket } from "../../services/federation/KnowledgePacket.js";
import { signManifest, verifyManifest, type Manifest, type VerifyManifestOptions } from "../../services/federation/Manifest.js";
import { compareVersions } from "../../services/federation/SyncEngine.js";
import { INBOUND_MATRIX, inboundDecision, mayReceive, MESSAGE_KINDS } from "../../services/federation/trust.js";
import { sealMessage, verifyMessage, type Envelope } from "../../services/federation/messages.js";
import { checkBrokerLogin, brokerPassword } from "../../services/federation/brokerLogin.js";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "sovereign-fed-unit-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function node(): NodeIdentity {
  return NodeIdentity.loadOrCreate(tmp());
}

function manifestOf(id: NodeIdentity, seq: number, now: number, ttlMs = 60_000): Manifest {
  return {
    v: 1, nodeId: id.nodeId, name: "pi", publicKey: id.publicKeyBase64, encryptionKey: Buffer.alloc(32, 7).toString("base64"),
    capabilities: {
      hardware: { arch: "arm64", model: "Raspberry Pi 4", cpuModel: "Cortex-A72", cores: 4, memoryBytes: 8e9, gpu: null },
      models: ["tiny"], inference: { available: true, parallel: 2, queueDepth: 0, freeSlots: 2 },
    },
    endpoints: { http: ["http://10.0.0.2:8080"], mqtt: [] }, seq, issuedAt: now, expiresAt: now + ttlMs, logHead: 0,
  };
}

const opts = (over: Partial<VerifyManifestOptions> = {}): VerifyManifestOptions => ({
  now: 1_800_000_000_000, skewMs: 1000, highWater: () => undefined, knownKey: () => undefined, allowNewSigners: true, ...over,
});

describe("canonical JSON", () => {
  it("sorts keys at every depth, drops undefined members and has no whitespace", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, "x", null], c: true }, u: undefined })).toBe('{"a":{"c":true,"d":[1,"x",null]},"b":1}');
  });
  it("is stable through a parse round trip and refuses what JSON cannot carry exactly", () => {
    const v = { z: "é\u2028\"", n: 0.1, neg: -0 };
    expect(canonicalJson(JSON.parse(canonicalJson(v)))).toBe(canonicalJson(v));
    expect(() => canonicalJson({ x: NaN })).toThrow();
    expect(() => canonicalJson({ x: 2 ** 60 })).toThrow();
    expect(() => canonicalJson([undefined])).toThrow();
    expect(() => canonicalJson(new Date())).toThrow();
  });
});

describe("signed manifests", () => {
  const now = 1_800_000_000_000;
  it("accept a fresh manifest and reject tampering, a wrong key, expiry, replay, rollback and unknown signers", () => {
    const a = node();
    const b = node();
    const signed = signManifest(manifestOf(a, 5, now), a.privateKeyObject());
    expect(verifyManifest(signed, opts())).toMatchObject({ ok: true });

    const tampered = structuredClone(signed);
    tampered.manifest.capabilities.inference.freeSlots = 99;
    expect(verifyManifest(tampered, opts())).toMatchObject({ ok: false, reason: "bad-signature" });

    // Flip one byte of the signature.
    const sig = Buffer.from(signed.sig, "base64");
    sig[10]! ^= 1;
    expect(verifyManifest({ ...signed, sig: sig.toString("base64") }, opts())).toMatchObject({ ok: false, reason: "bad-signature" });

    // Signed by b but claiming a's identity.
    expect(verifyManifest(signManifest(manifestOf(a, 5, now), b.privateKeyObject()), opts())).toMatchObject({ ok: false, reason: "bad-signature" });
    // b's key with a's node id: the id does not derive from the key.
    expect(verifyManifest(signManifest({ ...manifestOf(a, 5, now), publicKey: b.publicKeyBase64 }, b.privateKeyObject()), opts())).toMatchObject({ ok: false, reason: "wrong-key" });
    // A different key than the one we hold for that node id.
    expect(verifyManifest(signed, opts({ knownKey: () => b.publicKeyBase64 }))).toMatchObject({ ok: false, reason: "wrong-key" });
    expect(verifyManifest(signed, opts({ allowNewSigners: false }))).toMatchObject({ ok: false, reason: "unknown-signer" });

    expect(verifyManifest(signed, opts({ now: now + 120_000 }))).toMatchObject({ ok: false, reason: "expired" });
    expect(verifyManifest(signed, opts({ now: now - 120_000 }))).toMatchObject({ ok: false, reason: "not-yet-valid" });
    expect(verifyManifest(signed, opts({ highWater: () => 5 }))).toMatchObject({ ok: false, reason: "replay" });
    expect(verifyManifest(signed, opts({ highWater: () => 6 }))).toMatchObject({ ok: false, reason: "rollback" });
    expect(verifyManifest(signed, opts({ highWater: () => 4 }))).toMatchObject({ ok: true });
    expect(verifyManifest({ manifest: { v: 1 }, sig: "x" }, opts())).toMatchObject({ ok: false, reason: "malformed" });
    expect(verifyManifest("garbage", opts())).toMatchObject({ ok: false, reason: "malformed" });
  });

  it("keep high-water marks across a restart (a reopened database still refuses the rollback)", () => {
    const dir = tmp();
    const a = node();
    let db = new Database(join(dir, "sovereign.db"));
    let store = new FederationStore(db);
    store.recordManifest(manifestOf(a, 9, now), now);
    db.close();
    db = new Database(join(dir, "sovereign.db"));
    store = new FederationStore(db);
    const old = signManifest(manifestOf(a, 8, now), a.privateKeyObject());
    expect(verifyManifest(old, opts({ highWater: (id) => store.highWater(id, "manifest") }))).toMatchObject({ ok: false, reason: "rollback" });
    expect(store.nextSelf("manifest-seq")).toBe(1);
    expect(store.nextSelf("manifest-seq")).toBe(2);
    db.close();
  });
});

describe("knowledge packets", () => {
  it("are content-addressed and signed; tampering, unknown types and strangers are refused", () => {
    const a = node();
    const p = createPacket(a.privateKeyObject(), { type: "memory", author: a.nodeId, seq: 1, createdAt: 1, deps: [], body: { key: "k", text: "hi" } });
    const keyOf = (id: string) => (id === a.nodeId ? a.publicKeyBase64 : undefined);
    expect(verifyPacket(p, keyOf)).toMatchObject({ ok: true });
    expect(createPacket(a.privateKeyObject(), p.content).id).toBe(p.id);
    const t = structuredClone(p);
    (t.content.body as { text: string }).text = "hi!";
    expect(verifyPacket(t, keyOf)).toMatchObject({ ok: false, reason: "tampered" });
    expect(verifyPacket({ ...p, content: { ...p.content, type: "virus" } }, keyOf)).toMatchObject({ ok: false, reason: "unknown-type" });
    expect(verifyPacket(p, () => undefined)).toMatchObject({ ok: false, reason: "unknown-signer" });
    expect(verifyPacket(p, () => node().publicKeyBase64)).toMatchObject({ ok: false, reason: "bad-signature" });
    expect(verifyPacket({ id: 1 }, keyOf)).toMatchObject({ ok: false, reason: "malformed" });
  });

  it("resolve keyed conflicts by (createdAt, author, id)", () => {
    expect(compareVersions([2, "a", "x"], [1, "z", "z"])).toBe(1);
    expect(compareVersions([1, "b", "a"], [1, "a", "z"])).toBe(1);
    expect(compareVersions([1, "a", "b"], [1, "a", "c"])).toBe(-1);
  });
});

describe("control messages", () => {
  it("are bound to sender, recipient and content", () => {
    const a = node();
    const env = JSON.parse(sealMessage(a.privateKeyObject(), "sync-req", a.nodeId, "someone", { since: 3 })) as Envelope;
    expect(verifyMessage(env, a.publicKeyBase64)).toBe(true);
    expect(verifyMessage({ ...env, to: "someone-else" }, a.publicKeyBase64)).toBe(false);
    expect(verifyMessage({ ...env, body: { since: 0 } }, a.publicKeyBase64)).toBe(false);
  });

  it("broker logins prove the node id", () => {
    const a = node();
    const pw = Buffer.from(brokerPassword(a.privateKeyObject(), a.nodeId, a.publicKeyBase64, 1000));
    expect(checkBrokerLogin(a.nodeId, pw, 1000, 60_000)).toBe(a.nodeId);
    expect(checkBrokerLogin(node().nodeId, pw, 1000, 60_000)).toBeNull();
    expect(checkBrokerLogin(a.nodeId, pw, 1000 + 120_000, 60_000)).toBeNull();
  });
});

describe("trust tiers", () => {
  it("match the documented matrix", () => {
    expect(inboundDecision("core", "packet")).toBe("accept");
    expect(inboundDecision("sandbox", "packet")).toBe("quarantine");
    expect(inboundDecision("sandbox", "sync-req")).toBe("drop");
    expect(inboundDecision("external", "query")).toBe("accept");
    expect(inboundDecision("external", "packet")).toBe("drop");
    expect(MESSAGE_KINDS.length).toBeGreaterThan(1);
    for (const k of MESSAGE_KINDS) if (k !== "manifest") expect(INBOUND_MATRIX.unknown[k]).toBe("drop");
    expect(mayReceive("sandbox", "packets")).toBe(false);
    expect(mayReceive("external", "packets")).toBe(false);
    expect(mayReceive("core", "backup")).toBe(true);
  });
});

describe("backup sealing", () => {
  it("only its readers' keys open a chunk, and its identity is authenticated", () => {
    const dir = tmp();
    const k = EncryptionKey.loadOrCreate(dir);
    expect(statSync(join(dir, "keys", "federation-x25519.key")).mode & 0o777).toBe(0o600);
    expect(EncryptionKey.loadOrCreate(dir).publicKeyB64).toBe(k.publicKeyB64);
    const peer = EncryptionKey.loadOrCreate(tmp());
    const other = EncryptionKey.loadOrCreate(tmp());
    const data = Buffer.from("backup bytes ".repeat(100));
    const aad = { backupId: "b", index: 0, total: 1, to: "n" };
    const sealed = sealTo([k.publicKeyB64, peer.publicKeyB64], data, aad);
    expect(JSON.stringify(sealed).includes("backup bytes")).toBe(false);
    expect(openSealed(k, sealed, aad).equals(data)).toBe(true);
    expect(openSealed(peer, sealed, aad).equals(data)).toBe(true);
    expect(() => openSealed(other, sealed, aad)).toThrow();
    expect(() => openSealed(k, sealed, { ...aad, index: 1 })).toThrow();
    // A reader entry cannot be pointed at another key: the wrap is bound to its recipient.
    const forged = { ...sealed, readers: sealed.readers.map((r) => ({ ...r, to: other.publicKeyB64 })) };
    expect(() => openSealed(other, forged, aad)).toThrow();
    // Flipping one ciphertext byte fails authentication for every reader.
    const ct = Buffer.from(sealed.ciphertext, "base64");
    ct[0] = (ct[0] ?? 0) ^ 1;
    expect(() => openSealed(peer, { ...sealed, ciphertext: ct.toString("base64") }, aad)).toThrow();
  });
});
