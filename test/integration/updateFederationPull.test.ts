import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSecretKey } from "../../core/ed25519.js";
import { packageVersion } from "../../core/packageVersion.js";
import { encodeBundleHeader, PREAMBLE_BYTES } from "../../core/updateBundle.js";
import { writeBundle } from "../../image/lib/bundle.js";
import { offerOf, type BundleOffer } from "../../services/update/offerStore.js";
import { listenExtra, type ExtraListener } from "../../appliance/extraListener.js";
import { freePort } from "../helpers/freePort.js";
import { makePullSlots, PULL_CHUNK, pullNodeSettings, stopPullAfter } from "./updatePullFixtures.js";
import { requireTools } from "../helpers/requireTool.js";
import type { TestApp } from "../helpers/testApp.js";
import { ADMIN, as, claim, login, type Session } from "./authHelpers.js";
import { federatedNode, Mosquitto, pair, until } from "./federationHelpers.js";

const sha = (p: string): string => createHash("sha256").update(readFileSync(p)).digest("hex");
const NEXT = `${packageVersion()}.1`;
const CHUNK = PULL_CHUNK;

/**
 * The fourth way to apply: a core peer offers a newer signed bundle over MQTT (real Mosquitto), the receiver
 * checks the offer's signed header, fetches the body in signed HTTP Range requests from the peer's real HTTPS
 * listener (its own certificate), resumes after an abort and a restart, and applies it through the same UpdateService.apply().
 */
describe.runIf(requireTools("mosquitto"))("update pulled from a core federation peer (Mosquitto, two nodes, real slot files)", () => {
  let broker: Mosquitto;
  let dir: string;
  let key: Uint8Array;
  let a: TestApp; // the core node that applied the bundle and offers it
  let b: TestApp; // the node that pulls it
  let c: TestApp; // a sandbox peer of b
  const bDataDir = mkdtempSync(join(tmpdir(), "sovereign-pull-b-"));
  let bundlePath: string;
  let offer: BundleOffer;
  let admin: Session;
  let https: ExtraListener | undefined;

  function slots(node: string): Record<string, unknown> {
    // Both nodes' slots start with the same bytes, so the slot files can be compared after the two applies.
    makePullSlots(dir, node, readFileSync(join(dir, "slot-init")));
    return pullNodeSettings(dir, node, key);
  }

  async function makeBundle(name: string, version: string, board: string, signer: Uint8Array): Promise<string> {
    const out = join(dir, name);
    await writeBundle(out, { version, board }, [
      { name: "rootfs.ext4", target: "root", path: join(dir, "root") },
      { name: "vmlinuz", target: "boot", path: join(dir, "vmlinuz") },
    ], signer);
    return out;
  }

  const events = (t: TestApp, type: string) => t.app.audit.list({ type, limit: 100 });
  const served = () => a.app.federation.stats().bundles;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sovereign-pull-"));
    key = generateSecretKey();
    writeFileSync(join(dir, "slot-init"), randomBytes(4 * 1024 * 1024));
    writeFileSync(join(dir, "root"), randomBytes(1536 * 1024 + 7));
    writeFileSync(join(dir, "vmlinuz"), "kernel of the next version");
    bundlePath = await makeBundle("next.sovupdate", NEXT, "x86_64", key);
    offer = await offerOf(bundlePath);

    broker = await Mosquitto.start();
    // alpha serves HTTPS with its own certificate, as a node listening beyond loopback does (server.tls auto).
    const httpsPort = await freePort();
    a = await federatedNode("alpha", broker.url, { ...slots("alpha"), "server.tls": "on", "server.httpsPort": httpsPort });
    b = await federatedNode("bravo", broker.url, slots("bravo"), bDataDir);
    c = await federatedNode("charlie", broker.url, slots("charlie"));
    // The offering node's HTTP listener, named in its signed manifest.
    await a.app.listen({ host: "127.0.0.1", port: 0 });
    https = await listenExtra(a.app, { host: "127.0.0.1", port: httpsPort, tls: a.app.tls! });
    a.app.federation.issueManifest();
    expect(a.app.federation.manifest().manifest.endpoints.http).toEqual([`https://127.0.0.1:${httpsPort}`]);
    await pair(a, b, "core");
    await pair(b, a, "core");
    await pair(b, c, "sandbox");
    await pair(c, b, "core");
    const A = a.app.identity.nodeId;
    await until(() => b.app.federation.peerHttpEndpoints(A).length > 0, "bravo to see alpha's HTTP endpoint");
    admin = await claim(b.app, b.dataDir);
  }, 60_000);

  afterAll(async () => {
    await https?.close();
    for (const t of [a, b, c]) await t?.close().catch(() => undefined);
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
    rmSync(bDataDir, { recursive: true, force: true });
  });

  it("refuses tampered offers from a core peer before fetching a byte, each audited with its code", async () => {
    const A = a.app.identity.nodeId;
    const headerOf = (o: BundleOffer) => Buffer.from(o.header, "base64");
    // Bad signature: the signed header's version raised after signing (the offer claims the same).
    const env = JSON.parse(headerOf(offer).subarray(PREAMBLE_BYTES).toString("utf8"));
    env.manifest.version = `${NEXT}.9`;
    const forged = { ...offer, version: `${NEXT}.9`, header: encodeBundleHeader(env).toString("base64") };
    const other = generateSecretKey();
    const cases: Array<[string, BundleOffer]> = [
      ["UPDATE_SIGNATURE_INVALID", forged],
      ["UPDATE_WRONG_BOARD", await offerOf(await makeBundle("rpi5.sovupdate", NEXT, "rpi5", key))],
      ["UPDATE_DOWNGRADE", await offerOf(await makeBundle("old.sovupdate", "0.0.1", "x86_64", key))],
      ["UPDATE_KEY_UNTRUSTED", await offerOf(await makeBundle("other.sovupdate", NEXT, "x86_64", other))],
      ["UPDATE_BUNDLE_TRUNCATED", { ...offer, size: offer.size - 1 }],
      ["UPDATE_OFFER_MALFORMED", { ...offer, board: "rpi4" }],
    ];
    for (const [, o] of cases) expect(a.app.federation.offerUpdate(o)).toEqual([b.app.identity.nodeId]);
    await until(() => events(b, "update.offer_refused").length >= cases.length, "bravo to refuse every tampered offer");
    const refused = events(b, "update.offer_refused");
    expect(refused.map((e) => e.details.code).sort()).toEqual(cases.map(([code]) => code).sort());
    for (const e of refused) expect(e.actor).toBe(A);

    // A sandbox peer's offer of the good bundle: dropped by the tier matrix, never considered.
    const dropsBefore = b.app.federation.stats().drops.tier;
    expect(c.app.federation.offerUpdate(offer)).toEqual([b.app.identity.nodeId]);
    await until(() => b.app.federation.stats().drops.tier > dropsBefore, "bravo to drop the sandbox peer's offer");

    expect(events(b, "update.offer_received")).toEqual([]);
    expect(events(b, "update.pull_started")).toEqual([]);
    expect(served()).toEqual({ requests: 0, bytesServed: 0, refused: 0 });
    expect(existsSync(join(b.dataDir, "update/pull.partial"))).toBe(false);
  });

  it("refuses an unsigned or non-core HTTP request for the bundle", async () => {
    const addr = a.app.server.address() as { port: number };
    const url = `http://127.0.0.1:${addr.port}/api/federation/update-bundles/${offer.sha256}`;
    const anon = await fetch(url, { headers: { range: "bytes=0-9" } });
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as { error: { code: string } }).error.code).toBe("UNAUTHENTICATED");
    // c is core on its own side, but a knows it only as unknown: its signed request is refused too.
    await until(() => a.app.federation.peers().some((p) => p.nodeId === c.app.identity.nodeId), "alpha to see charlie");
    const path = new URL(url).pathname;
    const signed = await fetch(url, { headers: { ...c.app.federation.signPeerRequest(a.app.identity.nodeId, "GET", path, "bytes=0-9"), range: "bytes=0-9" } });
    expect(signed.status).toBe(403);
    expect(served().bytesServed).toBe(0);
    expect(served().refused).toBe(2);
  });

  it("pulls the offered bundle in Range chunks, resumes after an abort and a restart with only the remaining bytes, then applies it like a local apply", async () => {
    // alpha applies the bundle locally (its slot b is the reference), then shares it.
    const local = await a.app.update.apply(bundlePath, { via: "cli", actor: null });
    expect(local.slot).toBe("b");
    // The pull is stopped after the 5th chunk, as a crash or shutdown would stop it.
    const stopped = stopPullAfter(b.app.updatePeers.pull, 5);
    // Sharing offers it to alpha's core peers at once (bravo).
    await a.app.updatePeers.share(bundlePath, false);
    expect(a.app.updatePeers.offers?.list().map((o) => o.sha256)).toEqual([offer.sha256]);
    await stopped;
    const sidecar = JSON.parse(readFileSync(join(bDataDir, "update/pull.json"), "utf8")) as { synced: number; ready: boolean };
    expect(sidecar.ready).toBe(false);
    expect(sidecar.synced).toBe(5 * CHUNK);
    expect(events(b, "update.offer_received")).toHaveLength(1);
    expect(events(b, "update.pull_started")[0]?.details).toMatchObject({ resumeFrom: 0, size: offer.size });
    const firstRun = served();
    expect(firstRun.bytesServed).toBeGreaterThanOrEqual(5 * CHUNK);

    // Restart bravo on the same data dir: the pull resumes from the sidecar at start, without a new offer.
    await b.close();
    b = await federatedNode("bravo", broker.url, slots("bravo"), bDataDir);
    admin = await login(b.app, ADMIN.username, ADMIN.password);
    await until(() => b.app.updatePeers.pull.status()?.phase === "pulled", "bravo to finish and verify the pull", 60_000);
    const st = b.app.updatePeers.pull.status()!;
    const secondRun = { bytes: served().bytesServed - firstRun.bytesServed, requests: served().requests - firstRun.requests };
    expect(st.resumedFrom).toBe(5 * CHUNK);
    expect(st.fetchedBytes).toBe(offer.size - 5 * CHUNK);
    expect(secondRun.bytes).toBe(offer.size - 5 * CHUNK);
    expect(secondRun.requests).toBe(Math.ceil((offer.size - 5 * CHUNK) / CHUNK));
    expect(st.chunks).toBe(secondRun.requests);
    process.stdout.write(`pull: bundle ${offer.size} bytes, chunk ${CHUNK}; run 1 served ${firstRun.bytesServed} bytes in ${firstRun.requests} requests (synced ${sidecar.synced}); run 2 resumed at ${st.resumedFrom}, fetched ${st.fetchedBytes} bytes in ${st.chunks} requests\n`);

    // Waiting for the admin (update.autoApplyFromPeers is off): nothing written yet, GET /api/update shows it.
    const before = await b.app.inject({ method: "GET", url: "/api/update", headers: as(admin) });
    expect(before.json()).toMatchObject({ pending: null, progress: { phase: "pulled", doneBytes: offer.size, totalBytes: offer.size }, pull: { phase: "pulled", peer: a.app.identity.nodeId, offer: { version: NEXT, sha256: offer.sha256 } } });
    expect(sha(join(dir, "bravo/slot-b"))).toBe(sha(join(dir, "slot-init")));

    const applied = await b.app.inject({ method: "POST", url: "/api/update/pull/apply", headers: as(admin) });
    expect(applied.statusCode).toBe(202);
    await until(async () => {
      const r = await b.app.inject({ method: "GET", url: "/api/update", headers: as(admin) });
      return ["done", "failed"].includes((r.json() as { progress: { phase: string } }).progress.phase);
    }, "the pulled bundle to be applied");
    const after = (await b.app.inject({ method: "GET", url: "/api/update", headers: as(admin) })).json() as Record<string, unknown>;
    expect(after).toMatchObject({ progress: { phase: "done", error: null, manifest: { version: NEXT } }, pending: { slot: "b", version: NEXT }, lastResult: { outcome: "applied" } });
    // Identical to alpha's local apply: the slot file and the slot's boot files.
    expect(sha(join(dir, "bravo/slot-b"))).toBe(sha(join(dir, "alpha/slot-b")));
    expect(readFileSync(join(dir, "bravo/esp/sovereign/b/vmlinuz"), "utf8")).toBe("kernel of the next version");
    expect(readFileSync(join(dir, "bravo/esp/loader/entries/sovereign-b+3.conf"), "utf8")).toBe(readFileSync(join(dir, "alpha/esp/loader/entries/sovereign-b+3.conf"), "utf8"));
    // Nothing left of the download; the applied bundle is now one bravo offers on.
    for (const f of ["pull.partial", "pull.json", "pulled.sovupdate"]) expect(existsSync(join(bDataDir, "update", f))).toBe(false);
    expect(b.app.updatePeers.offers?.list().map((o) => o.sha256)).toEqual([offer.sha256]);
    expect(events(b, "update.attempt")[0]?.details).toMatchObject({ via: "peer" });
    expect(events(b, "update.applied")[0]?.details).toMatchObject({ via: "peer", slot: "b" });
    expect(events(b, "update.pulled")[0]?.details).toMatchObject({ resumedFrom: 5 * CHUNK, fetchedBytes: offer.size - 5 * CHUNK });

    // The same offer again: already pending here, refused without a fetch.
    const bytesNow = served().bytesServed;
    a.app.updatePeers.announce();
    await until(() => events(b, "update.offer_refused").some((e) => e.details.code === "UPDATE_OFFER_NOT_NEWER"), "bravo to refuse the version it already holds");
    expect(served().bytesServed).toBe(bytesNow);
  }, 120_000);

  it("shares a bundle an admin gives it (another board's), verified first, and its core peer weighs the offer", async () => {
    const post = (file: string) =>
      b.app.inject({ method: "POST", url: "/api/update/offers", headers: { ...as(admin), "content-type": "application/octet-stream" }, payload: readFileSync(file) });
    const untrusted = await post(join(dir, "other.sovupdate"));
    expect(untrusted.statusCode).toBe(400);
    expect(untrusted.json()).toMatchObject({ error: { code: "UPDATE_KEY_UNTRUSTED" } });
    const rpi = await offerOf(join(dir, "rpi5.sovupdate"));
    const refusedBefore = events(a, "update.offer_refused").length;
    const ok = await post(join(dir, "rpi5.sovupdate"));
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toEqual({ offer: { version: NEXT, board: "rpi5", size: rpi.size, sha256: rpi.sha256 } });
    expect(events(b, "update.offer_added")[0]).toMatchObject({ subject: NEXT, details: { board: "rpi5", sha256: rpi.sha256 } });
    const st = (await b.app.inject({ method: "GET", url: "/api/update", headers: as(admin) })).json() as { offers: Array<{ board: string }> };
    expect(st.offers.map((o) => o.board).sort()).toEqual(["rpi5", "x86_64"]);
    expect(existsSync(join(bDataDir, "update/offer-upload.sovupdate"))).toBe(false);
    // Offered on to alpha (x86_64), which refuses it for its board without fetching.
    await until(() => events(a, "update.offer_refused").length > refusedBefore && events(a, "update.offer_refused").some((e) => e.details.code === "UPDATE_WRONG_BOARD"), "alpha to refuse the rpi5 offer");
    expect(b.app.federation.stats().bundles.bytesServed).toBe(0);
  });
});
