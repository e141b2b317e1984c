import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SovereignError } from "../../core/errors/SovereignError.js";
import { generateSecretKey, publicKeyOf } from "../../core/ed25519.js";
import { writeBundle } from "../../image/lib/bundle.js";
import { checkOffer, parseOffer, PeerPull, PULL_RESERVE_BYTES } from "../../services/update/bundlePull.js";
import { OfferStore, offerOf, type BundleOffer } from "../../services/update/offerStore.js";
import { UpdateService, type UpdateAuditEvent } from "../../services/update/UpdateService.js";

const RUNNING = "1.0.0";
const CHUNK = 32 * 1024;
const sha = (p: string): string => createHash("sha256").update(readFileSync(p)).digest("hex");

/**
 * The pull against a real HTTP server standing in for the peer's bundle route (Range requests), with a
 * real UpdateService over slot files: a connection dropped mid-chunk resumes from the byte that arrived,
 * a leftover past the synced mark is cut, a corrupt body is discarded, a full disk is refused first.
 */
describe("PeerPull: resumable Range download into update/pull.partial, then the one apply", () => {
  let dir: string;
  let key: Uint8Array;
  let bundle: string;
  let offer: BundleOffer;
  let server: Server;
  let port: number;
  /** Per test: requests seen, bytes sent, and what the server does wrong. */
  let log: Array<{ range: string; sent: number }>;
  let dropAfter: Map<number, number>;
  let corrupt: boolean;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sovereign-pull-unit-"));
    key = generateSecretKey();
    // Partly compressible, like a filesystem: the bundle carries the root gzipped, and the pull moves those bytes.
    writeFileSync(join(dir, "root"), Buffer.concat([randomBytes(200 * 1024 + 11), Buffer.alloc(300 * 1024, "sovereign root ")]));
    writeFileSync(join(dir, "vmlinuz"), "kernel");
    bundle = join(dir, "next.sovupdate");
    await writeBundle(bundle, { version: "1.1.0", board: "x86_64" }, [
      { name: "rootfs.ext4", target: "root", path: join(dir, "root") },
      { name: "vmlinuz", target: "boot", path: join(dir, "vmlinuz") },
    ], key);
    offer = await offerOf(bundle);
    const bytes = readFileSync(bundle);
    server = createServer((req, res) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
      if (!m) {
        res.writeHead(400).end();
        return;
      }
      const start = Number(m[1]);
      const end = Number(m[2]);
      let body = bytes.subarray(start, end + 1);
      if (corrupt) body = Buffer.from(body).fill(0x5a);
      const n = log.length;
      const entry = { range: req.headers.range ?? "", sent: 0 };
      log.push(entry);
      res.writeHead(206, { "content-range": `bytes ${start}-${end}/${bytes.length}`, "content-length": String(body.length) });
      const cut = dropAfter.get(n);
      if (cut !== undefined) {
        // Half a body, then the connection goes: what a dropped link looks like to the client.
        res.write(body.subarray(0, cut), () => {
          entry.sent = cut;
          res.socket?.destroy();
        });
        return;
      }
      entry.sent = body.length;
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  let node: string;
  let audit: UpdateAuditEvent[];
  beforeEach(() => {
    log = [];
    dropAfter = new Map();
    corrupt = false;
    node = mkdtempSync(join(dir, "node-"));
    for (const s of ["a", "b"]) writeFileSync(join(node, `slot-${s}`), Buffer.alloc(512 * 1024));
    writeFileSync(join(node, "cmdline"), "sovereign.slot=a\n");
    audit = [];
  });

  function make(o: { autoApply?: boolean; free?: number } = {}): { pull: PeerPull; service: UpdateService } {
    const service = new UpdateService({
      dataDir: node, board: "x86_64", runningVersion: RUNNING, trustedKeys: [Buffer.from(publicKeyOf(key)).toString("hex")],
      slots: { a: join(node, "slot-a"), b: join(node, "slot-b") }, bootDir: join(node, "esp"), bootMethod: "none", bootTries: 3,
      cmdline: () => readFileSync(join(node, "cmdline"), "utf8"), bootId: () => "boot-1", audit: (e) => audit.push(e),
    });
    mkdirSync(join(node, "update"), { recursive: true });
    const pull = new PeerPull({
      updateDir: join(node, "update"), service, policy: { trustedKeys: [Buffer.from(publicKeyOf(key)).toString("hex")], board: "x86_64", runningVersion: RUNNING },
      maxBytes: 64 * 1024 * 1024, chunkBytes: CHUNK, pullEnabled: true, autoApply: o.autoApply ?? false,
      offers: new OfferStore(join(node, "update/offers"), 1), audit: (e) => audit.push(e), log: { info: () => undefined, warn: () => undefined },
      link: () => ({ tierOf: () => "core", endpoints: () => [`http://127.0.0.1:${port}`], sign: () => ({}) }),
      ...(o.free !== undefined ? { freeBytes: async () => o.free as number } : {}),
    });
    return { pull, service };
  }

  async function settled(pull: PeerPull): Promise<void> {
    while (pull.busy) await new Promise((r) => setTimeout(r, 5));
  }

  it("resumes a connection dropped mid-chunk from the byte that arrived: every byte is sent once", async () => {
    dropAfter.set(2, 10_000); // the third request delivers 10,000 of its 32,768 bytes, then the link drops
    const { pull } = make();
    expect(pull.onOffer("peer1", offer)).toBeNull();
    await settled(pull);
    const st = pull.status()!;
    expect(st).toMatchObject({ phase: "pulled", error: null, resumedFrom: 0, fetchedBytes: offer.size });
    // The retry asks for the rest of the third chunk only.
    expect(log[3]?.range).toBe(`bytes=${2 * CHUNK + 10_000}-${3 * CHUNK - 1}`);
    expect(log.reduce((s, e) => s + e.sent, 0)).toBe(offer.size);
    expect(st.chunks).toBe(Math.ceil(offer.size / CHUNK) + 1);
    expect(sha(pull.pulledPath)).toBe(offer.sha256);
    expect(existsSync(pull.partialPath)).toBe(false);
    expect(audit.map((e) => e.type)).toEqual(["update.offer_received", "update.pull_started", "update.pulled"]);
  });

  it("cuts bytes past the synced mark on resume (a crash mid-chunk), and fetches only from there", async () => {
    const first = make();
    first.pull.events.on("chunk", (e: { chunks: number }) => {
      if (e.chunks === 2) void first.pull.close();
    });
    first.pull.onOffer("peer1", offer);
    await settled(first.pull);
    const side = JSON.parse(readFileSync(first.pull.sidecarPath, "utf8")) as { synced: number };
    expect(side.synced).toBe(2 * CHUNK);
    // What a crash during the third chunk leaves: bytes past the synced mark (here garbage).
    writeFileSync(first.pull.partialPath, randomBytes(1234), { flag: "a" });
    expect(statSync(first.pull.partialPath).size).toBe(2 * CHUNK + 1234);
    log = [];
    const second = make();
    second.pull.resume();
    await settled(second.pull);
    expect(second.pull.status()).toMatchObject({ phase: "pulled", resumedFrom: 2 * CHUNK, fetchedBytes: offer.size - 2 * CHUNK });
    expect(log[0]?.range).toBe(`bytes=${2 * CHUNK}-${3 * CHUNK - 1}`);
    expect(log.reduce((s, e) => s + e.sent, 0)).toBe(offer.size - 2 * CHUNK);
    expect(sha(second.pull.pulledPath)).toBe(offer.sha256);
  });

  it("discards a body that does not hash to the offered sha256", async () => {
    corrupt = true;
    const { pull } = make();
    pull.onOffer("peer1", offer);
    await settled(pull);
    expect(pull.status()?.error?.code).toBe("UPDATE_PULL_CORRUPT");
    for (const p of [pull.partialPath, pull.pulledPath, pull.sidecarPath]) expect(existsSync(p)).toBe(false);
    expect(audit.at(-1)).toMatchObject({ type: "update.pull_failed", details: { code: "UPDATE_PULL_CORRUPT" } });
    // The same offer from the same peer again: not fetched a second time.
    const requests = log.length;
    pull.onOffer("peer1", offer);
    await settled(pull);
    expect(log.length).toBe(requests);
  });

  it("refuses to start without room for the rest of the bundle plus the reserve, before any request", async () => {
    const { pull } = make({ free: offer.size + PULL_RESERVE_BYTES - 1 });
    pull.onOffer("peer1", offer);
    await settled(pull);
    expect(pull.status()?.error?.code).toBe("UPDATE_NO_SPACE");
    expect(log).toEqual([]);
  });

  it("with autoApplyFromPeers writes the inactive slot like a local apply, then keeps the bundle to offer on", async () => {
    const { pull, service } = make({ autoApply: true });
    pull.onOffer("peer1", offer);
    await settled(pull);
    expect(pull.status()).toMatchObject({ phase: "applied", error: null });
    expect(service.status()).toMatchObject({ pending: { slot: "b", version: "1.1.0" }, lastResult: { outcome: "applied" } });
    const root = readFileSync(join(dir, "root"));
    // The offered size is the bundle's, compressed: the checks before the pull count stored bytes.
    expect(checkOffer(offer, { trustedKeys: [Buffer.from(publicKeyOf(key)).toString("hex")], board: "x86_64", runningVersion: RUNNING }, 1e9).parts[0]).toMatchObject({ encoding: "gzip", size: root.length });
    expect(offer.size).toBeLessThan(root.length);
    expect(readFileSync(join(node, "slot-b")).subarray(0, root.length).equals(root)).toBe(true);
    expect(readFileSync(join(node, "esp/sovereign/b/vmlinuz"), "utf8")).toBe("kernel");
    expect(audit.filter((e) => e.type === "update.attempt")[0]?.details).toMatchObject({ via: "peer" });
    for (const p of [pull.partialPath, pull.pulledPath, pull.sidecarPath]) expect(existsSync(p)).toBe(false);
    expect(existsSync(join(node, "update/offers", `${offer.sha256}.sovupdate`))).toBe(true);
  });

  it("checks an offer's signed header before anything: fields, header and policy", () => {
    const policy = { trustedKeys: [Buffer.from(publicKeyOf(key)).toString("hex")], board: "x86_64", runningVersion: RUNNING };
    expect(checkOffer(offer, policy, 1e9).version).toBe("1.1.0");
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (err) {
        return (err as SovereignError).code;
      }
      return "none";
    };
    expect(code(() => parseOffer({ ...offer, sha256: "x" }))).toBe("UPDATE_OFFER_MALFORMED");
    expect(code(() => parseOffer({ ...offer, v: 2 }))).toBe("UPDATE_OFFER_MALFORMED");
    expect(code(() => checkOffer({ ...offer, version: "9.9.9" }, policy, 1e9))).toBe("UPDATE_OFFER_MALFORMED");
    expect(code(() => checkOffer(offer, { ...policy, runningVersion: "1.1.0" }, 1e9))).toBe("UPDATE_OFFER_NOT_NEWER");
    expect(code(() => checkOffer(offer, { ...policy, runningVersion: "1.2.0" }, 1e9))).toBe("UPDATE_DOWNGRADE");
    expect(code(() => checkOffer(offer, policy, offer.size - 1))).toBe("UPDATE_OFFER_TOO_LARGE");
    expect(code(() => checkOffer(offer, { ...policy, trustedKeys: [] }, 1e9))).toBe("UPDATE_KEY_UNTRUSTED");
    expect(code(() => checkOffer({ ...offer, header: Buffer.from(offer.header, "base64").subarray(0, 40).toString("base64") }, policy, 1e9))).toBe("UPDATE_OFFER_MALFORMED");
  });

  it("keeps the newest offersKeep bundles", async () => {
    const store = new OfferStore(join(node, "offers"), 1);
    await store.add(bundle, false);
    const older = join(dir, "older.sovupdate");
    await writeBundle(older, { version: "1.0.5", board: "x86_64" }, [{ name: "rootfs.ext4", target: "root", path: join(dir, "root") }], key);
    await store.add(older, false);
    expect(store.list().map((o) => o.version)).toEqual(["1.1.0"]);
    // Per board: another board's bundle does not push this board's out.
    const pi = join(dir, "pi.sovupdate");
    await writeBundle(pi, { version: "1.0.1", board: "rpi5" }, [{ name: "rootfs.ext4", target: "root", path: join(dir, "root") }], key);
    await store.add(pi, true);
    expect(store.list().map((o) => `${o.board} ${o.version}`)).toEqual(["x86_64 1.1.0", "rpi5 1.0.1"]);
    expect(existsSync(pi)).toBe(false); // moved
    expect(store.fileOf(offer.sha256)).not.toBeNull();
    expect(existsSync(older)).toBe(true); // copied, not moved
  });
});
