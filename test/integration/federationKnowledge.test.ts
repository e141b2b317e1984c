import BetterSqlite3 from "better-sqlite3";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../helpers/testApp.js";
import { inspect } from "../../services/db/backups.js";
import { EncryptionKey } from "../../services/federation/backupCrypto.js";
import { openMirrorBundle, type MirrorBundle } from "../../services/federation/backupMirror.js";
import { packetMessage } from "../../services/federation/messages.js";
import { quarantineOf } from "../../services/memory/FederatedMemories.js";
import { LOCAL_USER } from "../../services/memory/userId.js";
import { claim, fastAuth } from "./authHelpers.js";
import { federatedNode, pair, until } from "./federationHelpers.js";
import { sourceCli } from "../helpers/cli.js";

const cli = (...args: string[]) => sourceCli(args);

function markerRows(path: string, marker: string): unknown {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    return db.prepare("SELECT COUNT(*) AS n FROM memories WHERE text LIKE ?").get(`%${marker}%`);
  } finally {
    db.close();
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).map((n) => join(dir, n)).filter((p) => statSync(p).isFile());
}

/**
 * Three real nodes on the embedded aedes broker hosted by alpha:
 * alpha and bravo are core to each other; sierra is sandbox to bravo and
 * unknown-then-sandbox to alpha, and takes both as core.
 */
describe("federation knowledge and backup mirrors reach app.memory and the data dir (embedded broker)", () => {
  let a: TestApp, b: TestApp, s: TestApp;
  let A: string, B: string, S: string;

  beforeAll(async () => {
    a = await buildTestApp({
      "node.name": "alpha", "federation.enabled": true, "federation.broker.mode": "embedded", "federation.broker.host": "127.0.0.1",
      "federation.broker.port": 0, "federation.discovery": false, "scheduler.enabled": false, "federation.backupMirrorKeep": 2,
    });
    const url = `mqtt://127.0.0.1:${a.app.federation.brokerPort}`;
    b = await federatedNode("bravo", url, { ...fastAuth, "federation.backupMirrorKeep": 2 });
    s = await federatedNode("sierra", url);
    [A, B, S] = [a, b, s].map((t) => t.app.identity.nodeId) as [string, string, string];
    await pair(a, b, "core");
    await pair(b, a, "core");
    await pair(b, s, "sandbox");
    await pair(a, s, "sandbox");
    await pair(s, a, "core");
    await pair(s, b, "core");
  }, 60_000);

  afterAll(async () => {
    await Promise.all([s, b, a].filter(Boolean).map((t) => t.close()));
  });

  const search = async (t: TestApp, user: string, q: string) => (await t.app.memory.search(user, q)).hits.map((h) => h.memory);

  it("a memory added on alpha becomes searchable on bravo, with its origin, and is not sent back as bravo's own", async () => {
    const { ids } = a.app.memory.add(LOCAL_USER, { text: "The spare key hides under the blue flowerpot by the shed.", tags: ["house"] });
    await until(async () => (await search(b, LOCAL_USER, "flowerpot")).length === 1, "alpha's memory in bravo's search");
    const [m] = await search(b, LOCAL_USER, "flowerpot");
    expect(m!.text).toBe("The spare key hides under the blue flowerpot by the shed.");
    expect(m!.tags).toEqual(expect.arrayContaining(["federated", `from:${A}`, "house"]));
    // Filterable by origin.
    expect((await b.app.memory.search(LOCAL_USER, "flowerpot", { tags: [`from:${A}`] })).hits).toHaveLength(1);
    expect((await b.app.memory.search(LOCAL_USER, "flowerpot", { tags: [`from:${S}`] })).hits).toHaveLength(0);
    expect(b.app.memory.db.prepare("SELECT origin, fed_key FROM memories WHERE id = ?").get(m!.id)).toEqual({ origin: A, fed_key: `memory:${A}:${ids[0]}` });

    // bravo publishes its own new memories but never alpha's: alpha ends up with exactly one copy (its own).
    b.app.memory.add(LOCAL_USER, { text: "Bravo's own note about the greenhouse thermostat." });
    await until(async () => (await search(a, LOCAL_USER, "thermostat")).length === 1, "bravo's memory at alpha");
    await new Promise((r) => setTimeout(r, 2500));
    expect(await search(a, LOCAL_USER, "flowerpot")).toHaveLength(1);
    expect(b.app.federation.store.logSince(0, 1000).map((r) => JSON.parse(r.packet) as { content: { body: { text?: string } } }).some((p) => p.content.body.text?.includes("flowerpot"))).toBe(false);
  });

  it("a sandbox peer's memory lands in quarantine, out of normal search", async () => {
    s.app.memory.add(LOCAL_USER, { text: "Rumour from the sandbox: the moon is made of halloumi." });
    await until(async () => (await search(b, quarantineOf(LOCAL_USER), "halloumi")).length === 1, "sierra's memory in bravo's quarantine");
    expect(await search(b, LOCAL_USER, "halloumi")).toEqual([]);
    const [q] = await search(b, quarantineOf(LOCAL_USER), "halloumi");
    expect(q!.tags).toContain(`from:${S}`);
    expect(b.app.federation.stats().knowledge.quarantined).toBeGreaterThanOrEqual(1);
  });

  it("a replayed packet, pushed again or re-sent in a full re-sync, leaves one memory", async () => {
    const rows = a.app.federation.store.logSince(0, 1000).filter((r) => r.packet.includes("flowerpot"));
    expect(rows).toHaveLength(1);
    const before = b.app.memory.store.count(LOCAL_USER);
    const dupBefore = b.app.federation.stats().duplicates;
    // The exact packet again, over the wire, as alpha pushes it.
    (a.app.federation as unknown as { send(peer: string, payload: string): boolean }).send(B, packetMessage(A, B, 0, rows[0]!.packet));
    // And alpha's whole log again, as a sync from zero brings it.
    b.app.federation.sync.resetPeer(A);
    b.app.federation.store.sqlite.prepare("UPDATE fed_cursors SET recv = 0 WHERE peer_id = ?").run(A);
    b.app.federation.sync.resetPeer(A);
    b.app.federation.syncNow(true);
    await until(() => b.app.federation.stats().duplicates >= dupBefore + 2, "the replays to arrive");
    await new Promise((r) => setTimeout(r, 500));
    expect(b.app.memory.store.count(LOCAL_USER)).toBe(before);
    expect(await search(b, LOCAL_USER, "flowerpot")).toHaveLength(1);
  });

  it("a keyed item keeps the conflict winner: an older version arriving later does not overwrite it", async () => {
    const now = Date.now();
    a.app.federation.sync.publish([{ type: "memory", body: { key: "gate-code", text: "The garden gate code is 4711." } }], now);
    await until(async () => (await search(b, LOCAL_USER, "gate")).length === 1, "the newer gate code");
    a.app.federation.sync.publish([{ type: "memory", body: { key: "gate-code", text: "The garden gate code is 1234." } }], now - 60_000);
    const stale = b.app.federation.stats().knowledge.stale;
    await until(() => b.app.federation.stats().knowledge.stale === stale + 1, "the older version to lose");
    const hits = await search(b, LOCAL_USER, "garden gate code");
    expect(hits.map((m) => m.text)).toEqual(["The garden gate code is 4711."]);
    // A newer version replaces it in place of adding a second row.
    a.app.federation.sync.publish([{ type: "memory", body: { key: "gate-code", text: "The garden gate code is 9090." } }], now + 60_000);
    await until(async () => (await search(b, LOCAL_USER, "9090")).length === 1, "the newest gate code");
    expect((await search(b, LOCAL_USER, "garden gate code")).map((m) => m.text)).toEqual(["The garden gate code is 9090."]);
  });

  it("alpha's backup is mirrored to bravo after the backup job, ciphertext at rest; alpha opens it back, bravo only on purpose; sierra gets none", async () => {
    const marker = "MARKER-ZEBRA-7f3c91";
    // Another local user's memory: knowledge sync shares only the owner's, so bravo can only ever see it
    // through the mirror (with LOCAL_USER, the 2 s export pushed it to bravo's database whenever the backup ran longer).
    a.app.memory.add("diary-keeper", { text: `Private diary entry ${marker} that must stay alpha's.` });
    const run = a.app.scheduler.runNow("db-backup");
    expect((await run.done).outcome).toBe("ok");
    await until(() => b.app.federation.mirrors.list(A).some((m) => m.complete), "a complete mirror at bravo", 30_000);
    const [held] = b.app.federation.mirrors.list(A);

    // bravo's data dir holds no plaintext of it: not in the mirror files, not in its database.
    const files = filesUnder(b.app.federation.mirrors.dir);
    expect(files.length).toBe(held!.total + 1);
    for (const f of files) {
      expect(readFileSync(f).includes(marker)).toBe(false);
      expect(statSync(f).mode & 0o777).toBe(0o600);
    }
    const dbFiles = readdirSync(b.dataDir).filter((n) => n.startsWith("sovereign.db"));
    expect(dbFiles.length).toBeGreaterThan(0);
    for (const f of dbFiles) expect(readFileSync(join(b.dataDir, f)).includes(marker)).toBe(false);

    // The owner fetches it back through bravo's API (an admin there) and decrypts it with its own key.
    const session = await claim(b.app, b.dataDir);
    const list = await b.app.inject({ method: "GET", url: "/api/federation/mirrors", headers: { cookie: session.cookie } });
    expect(list.statusCode).toBe(200);
    expect((list.json() as { mirrors: Array<{ owner: string; backupId: string }> }).mirrors).toContainEqual(expect.objectContaining({ owner: A, backupId: held!.backupId }));
    const res = await b.app.inject({ method: "GET", url: `/api/federation/mirrors/${A}/${held!.backupId}`, headers: { cookie: session.cookie } });
    expect(res.statusCode).toBe(200);
    const bundle = res.json() as MirrorBundle;
    // bravo opens it only on purpose, naming the owner it restores for (alpha lost its disk);
    // sierra, not a reader, cannot open it even so.
    expect(() => openMirrorBundle(bundle, EncryptionKey.loadOrCreate(b.dataDir), B)).toThrow(expect.objectContaining({ code: "FED_MIRROR_INVALID" }));
    expect(() => openMirrorBundle(bundle, EncryptionKey.loadOrCreate(s.dataDir), S, A)).toThrow(expect.objectContaining({ code: "FED_MIRROR_INVALID" }));
    const rescued = join(b.dataDir, "rescued.db");
    writeFileSync(rescued, openMirrorBundle(bundle, EncryptionKey.loadOrCreate(b.dataDir), B, A), { mode: 0o600 });
    expect(markerRows(rescued, marker)).toEqual({ n: 1 });
    rmSync(rescued);
    const restored = join(a.dataDir, "restored.db");
    writeFileSync(restored, openMirrorBundle(bundle, EncryptionKey.loadOrCreate(a.dataDir), A), { mode: 0o600 });
    expect(inspect(restored).problems).toEqual([]);
    expect(markerRows(restored, marker)).toEqual({ n: 1 });
    const db = new BetterSqlite3(restored, { readonly: true });
    try {
      // Earlier mirrors are not inside the mirror.
      expect(db.prepare("SELECT COUNT(*) AS n FROM fed_log WHERE type = 'backup-chunk'").get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    const missing = await b.app.inject({ method: "GET", url: `/api/federation/mirrors/${A}/00000000-0000-0000-0000-000000000000`, headers: { cookie: session.cookie } });
    expect(missing.statusCode).toBe(404);
    expect((missing.json() as { error: { code: string } }).error.code).toBe("FED_MIRROR_NOT_FOUND");

    // The same from the console: bravo lists and exports the mirror, alpha opens it.
    expect(JSON.parse(cli("peer", "mirrors", "--json", "--data-dir", b.dataDir))).toContainEqual(expect.objectContaining({ owner: A, backupId: held!.backupId, complete: true }));
    const sealed = join(b.dataDir, "mirror.json");
    cli("peer", "mirror-get", A, held!.backupId, "--out", sealed, "--data-dir", b.dataDir);
    expect(readFileSync(sealed).includes(marker)).toBe(false);
    expect(() => cli("peer", "mirror-open", sealed, "--out", join(b.dataDir, "opened.db"), "--data-dir", b.dataDir)).toThrow(/belongs to node.*--for-owner/s);
    expect(JSON.parse(cli("peer", "mirror-open", sealed, "--for-owner", A, "--out", join(b.dataDir, "opened.db"), "--json", "--data-dir", b.dataDir))).toMatchObject({ bytes: expect.any(Number) });
    expect(markerRows(join(b.dataDir, "opened.db"), marker)).toEqual({ n: 1 });
    const opened = join(a.dataDir, "opened.db");
    expect(JSON.parse(cli("peer", "mirror-open", sealed, "--out", opened, "--json", "--data-dir", a.dataDir))).toMatchObject({ out: opened });
    expect(markerRows(opened, marker)).toEqual({ n: 1 });

    // sierra (a sandbox peer of alpha) received no chunk and holds nothing.
    expect(s.app.federation.store.packetsFrom(A).filter((r) => r.type === "backup-chunk")).toHaveLength(0);
    expect(s.app.federation.mirrors.list()).toEqual([]);
  }, 60_000);

  it("bravo keeps only the newest federation.backupMirrorKeep mirrors of alpha", async () => {
    for (let i = 0; i < 2; i++) {
      const before = b.app.federation.stats().mirrors.chunksStored;
      const r = a.app.federation.mirrorNewestBackup(join(a.dataDir, "backups"));
      await until(() => b.app.federation.stats().mirrors.chunksStored === before + r!.chunks, "the next mirror");
    }
    const held = b.app.federation.mirrors.list(A);
    expect(held).toHaveLength(2);
    expect(held.every((m) => m.complete)).toBe(true);
    // alpha's outbox holds one mirror per peer at most.
    expect(new Set(a.app.federation.store.logSince(0, 10_000).filter((r) => r.recipient === B).map((r) => (JSON.parse(r.packet) as { content: { body: { backupId?: string } } }).content.body.backupId).filter(Boolean)).size).toBe(1);
  }, 60_000);

  it("once a node is claimed, its owner's memory is the one shared, on both sides", async () => {
    // bravo was claimed above; claim alpha too. Neither names federation.memoryUser.
    await claim(a.app, a.dataDir);
    const ownerOf = (t: TestApp) => (t.app.db.sqlite.prepare("SELECT id FROM auth_users WHERE role = 'admin'").get() as { id: string }).id;
    const [alphaOwner, bravoOwner] = [ownerOf(a), ownerOf(b)];
    expect(alphaOwner).not.toBe(LOCAL_USER);
    a.app.memory.add(alphaOwner, { text: "The owner's bicycle lock combination is 4711." });
    a.app.memory.add(LOCAL_USER, { text: "A leftover bicycle note from before the claim." });
    await until(async () => (await search(b, bravoOwner, "bicycle")).length === 1, "the owner's memory in bravo's owner's search");
    expect((await search(b, bravoOwner, "bicycle")).map((m) => m.text)).toEqual(["The owner's bicycle lock combination is 4711."]);
  }, 60_000);
});
