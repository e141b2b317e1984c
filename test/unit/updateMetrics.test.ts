import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSecretKey, publicKeyOf } from "../../core/ed25519.js";
import { writeBundle } from "../../image/lib/bundle.js";
import { PeerPull } from "../../services/update/bundlePull.js";
import { offerOf, type BundleOffer } from "../../services/update/offerStore.js";
import { registerUpdateMetrics } from "../../services/update/updateMetrics.js";
import { UpdateService } from "../../services/update/UpdateService.js";

const CHUNK = 32 * 1024;

/**
 * The pull counters follow the pull's own audit events: a real PeerPull against a real HTTP Range server
 * that serves the bundle, serves other bytes than offered, or refuses; the counters as /metrics would show them.
 */
describe("update pull metrics", () => {
  let dir: string;
  let key: Uint8Array;
  let offer: BundleOffer;
  let server: Server;
  let port: number;
  let mode: "good" | "corrupt" | "refuse" = "good";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sovereign-pull-metrics-"));
    key = generateSecretKey();
    writeFileSync(join(dir, "root"), randomBytes(100 * 1024 + 3));
    const bundle = join(dir, "next.sovupdate");
    await writeBundle(bundle, { version: "1.1.0", board: "x86_64" }, [{ name: "rootfs.ext4", target: "root", path: join(dir, "root") }], key);
    offer = await offerOf(bundle);
    const bytes = readFileSync(bundle);
    server = createServer((req, res) => {
      if (mode === "refuse") {
        res.writeHead(403).end("not a core peer");
        return;
      }
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "")!;
      const [start, end] = [Number(m[1]), Number(m[2])];
      const body = mode === "corrupt" ? Buffer.alloc(end - start + 1, 0x5a) : bytes.subarray(start, end + 1);
      res.writeHead(206, { "content-range": `bytes ${start}-${end}/${bytes.length}`, "content-length": String(body.length) }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  /** One node (its own data dir) with the counters registered as the update plugin does. */
  function node(): { pull: PeerPull; registry: Registry } {
    const d = mkdtempSync(join(dir, "node-"));
    for (const s of ["a", "b"]) writeFileSync(join(d, `slot-${s}`), Buffer.alloc(256 * 1024));
    writeFileSync(join(d, "cmdline"), "sovereign.slot=a\n");
    mkdirSync(join(d, "update"), { recursive: true });
    const trustedKeys = [Buffer.from(publicKeyOf(key)).toString("hex")];
    const registry = new Registry();
    let count: (e: Parameters<ReturnType<typeof registerUpdateMetrics>>[0]) => void = () => undefined;
    const service = new UpdateService({
      dataDir: d, board: "x86_64", runningVersion: "1.0.0", trustedKeys, slots: { a: join(d, "slot-a"), b: join(d, "slot-b") },
      bootDir: join(d, "esp"), bootMethod: "none", bootTries: 3, cmdline: () => readFileSync(join(d, "cmdline"), "utf8"), bootId: () => "boot-1", audit: (e) => count(e),
    });
    const pull: PeerPull = new PeerPull({
      updateDir: join(d, "update"), service, policy: { trustedKeys, board: "x86_64", runningVersion: "1.0.0" },
      maxBytes: 64 * 1024 * 1024, chunkBytes: CHUNK, pullEnabled: true, autoApply: false, offers: null, audit: (e) => count(e),
      log: { info: () => undefined, warn: () => undefined },
      link: () => ({ tierOf: () => "core", endpoints: () => [`http://127.0.0.1:${port}`], sign: () => ({}) }),
    });
    count = registerUpdateMetrics(registry, service, () => pull);
    return { pull, registry };
  }

  async function pullOnce(n: { pull: PeerPull }): Promise<void> {
    n.pull.onOffer("peer1", offer);
    while (n.pull.busy) await new Promise((r) => setTimeout(r, 5));
  }

  async function values(registry: Registry): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const m of await registry.getMetricsAsJSON()) {
      if (!m.name.startsWith("sovereign_update_pull")) continue;
      for (const v of m.values) out[`${m.name}${v.labels.outcome ? `{${String(v.labels.outcome)}}` : ""}`] = v.value;
    }
    return out;
  }

  it("counts a whole pull and its bytes, a corrupt body, and a refused request", async () => {
    const good = node();
    expect(await values(good.registry)).toEqual({ "sovereign_update_pulls_total{pulled}": 0, "sovereign_update_pulls_total{corrupt}": 0, "sovereign_update_pulls_total{failed}": 0, sovereign_update_pull_bytes_total: 0 });
    mode = "good";
    await pullOnce(good);
    expect(good.pull.status()?.phase).toBe("pulled");
    expect(await values(good.registry)).toMatchObject({ "sovereign_update_pulls_total{pulled}": 1, "sovereign_update_pulls_total{corrupt}": 0, sovereign_update_pull_bytes_total: offer.size });

    // Other bytes than offered: fetched (they count as bytes), then discarded as corrupt.
    const bad = node();
    mode = "corrupt";
    await pullOnce(bad);
    expect(bad.pull.status()?.error?.code).toBe("UPDATE_PULL_CORRUPT");
    expect(await values(bad.registry)).toMatchObject({ "sovereign_update_pulls_total{pulled}": 0, "sovereign_update_pulls_total{corrupt}": 1, "sovereign_update_pulls_total{failed}": 0, sovereign_update_pull_bytes_total: offer.size });

    // The peer refuses the request: a failure with no bytes.
    const refused = node();
    mode = "refuse";
    await pullOnce(refused);
    expect(refused.pull.status()?.error?.code).toBe("UPDATE_PULL_FAILED");
    expect(await values(refused.registry)).toMatchObject({ "sovereign_update_pulls_total{failed}": 1, "sovereign_update_pulls_total{corrupt}": 0, sovereign_update_pull_bytes_total: 0 });
  });
});
