import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSecretKey, publicKeyOf } from "../../core/ed25519.js";
import { packageVersion } from "../../core/packageVersion.js";
import { writeBundle } from "../../image/lib/bundle.js";
import { offerOf, type BundleOffer } from "../../services/update/offerStore.js";
import { runSourceCli, type CliResult } from "../helpers/cli.js";
import { freePort } from "../helpers/freePort.js";
import { makePullSlots, PULL_CHUNK, pullNodeSettings, stopPullAfter } from "./updatePullFixtures.js";
import { requireTools } from "../helpers/requireTool.js";
import { stepTrail } from "../helpers/stepTrail.js";
import type { TestApp } from "../helpers/testApp.js";
import { a11yViolations, launchChromium, newContext, shot, watchErrors } from "../e2e/uiBrowser.js";
import { ADMIN } from "./authHelpers.js";
import { federatedNode, Mosquitto, pair, until } from "./federationHelpers.js";

const NEXT = `${packageVersion()}.1`;
const CHUNK = PULL_CHUNK;

/** The panel's byte format (web-ui/static/js/h.js fmtBytes), to write the sentences the owner reads. */
function fmtBytes(n: number): string {
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(n < 10 && i > 0 ? 1 : 0)} ${u[i]}`;
}

/** One sample of a /metrics text, 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/**
 * A pull from a core peer as an owner sees it: real Mosquitto, two nodes, real slot files, the panel in Chromium,
 * the real CLI and /metrics. bravo pulls alpha's bundle, is stopped mid-download, restarts, resumes, and the admin
 * applies the pulled bundle from the Updates page; then a trial that the health gate gives up comes back as a rollback.
 */
describe.runIf(requireTools("chromium", "mosquitto"))("Updates page, CLI and metrics for a bundle pulled from a core peer", () => {
  let broker: Mosquitto;
  let dir: string;
  let key: Uint8Array;
  let a: TestApp; // offers the bundle
  let b: TestApp; // pulls it; the browser looks at this one
  const bDataDir = mkdtempSync(join(tmpdir(), "sovereign-pull-page-b-"));
  let bPort: number;
  let base: string;
  let bundlePath: string;
  let offer: BundleOffer;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let updateGets = 0;

  function slots(node: string): Record<string, unknown> {
    // Plain HTTP on loopback: alpha's manifest names the listener bravo fetches from, and the browser talks to bravo.
    return { ...pullNodeSettings(dir, node, key), "server.host": "127.0.0.1", "server.tls": "off" };
  }

  function makeSlots(node: string): void {
    makePullSlots(dir, node, randomBytes(2 * 1024 * 1024));
  }

  /** The real CLI from the sources, on bravo's data dir and slot files, while bravo runs (and keeps serving). */
  const cli = (args: string[]): Promise<CliResult> => {
    const d = join(dir, "bravo");
    return runSourceCli(args, {
      SOVEREIGN_DATA_DIR: bDataDir, SOVEREIGN_BOARD: "x86_64", SOVEREIGN_CONFIG: join(dir, "none.json"),
      SOVEREIGN_UPDATE_TRUSTED_KEYS: Buffer.from(publicKeyOf(key)).toString("hex"),
      SOVEREIGN_UPDATE_SLOT_A: join(d, "slot-a"), SOVEREIGN_UPDATE_SLOT_B: join(d, "slot-b"),
      SOVEREIGN_UPDATE_BOOT_DIR: join(d, "esp"), SOVEREIGN_UPDATE_BOOT_METHOD: "systemd-boot", SOVEREIGN_UPDATE_CMDLINE: join(d, "cmdline"),
    });
  };

  const metrics = async (): Promise<string> => (await b.app.inject({ method: "GET", url: "/metrics", headers: { host: "localhost" } })).body;

  async function startBravo(): Promise<void> {
    b = await federatedNode("bravo", broker.url, slots("bravo"), bDataDir);
    await b.app.listen({ host: "127.0.0.1", port: bPort });
  }

  async function openUpdates(): Promise<void> {
    await page.goto(base);
    await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
    await page.getByRole("link", { name: "Updates" }).click();
    await page.getByRole("heading", { level: 1, name: "Updates" }).waitFor();
    await page.getByRole("region", { name: "System slots" }).getByText("yes (running now)").waitFor();
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sovereign-pull-page-"));
    key = generateSecretKey();
    writeFileSync(join(dir, "none.json"), "{}\n");
    writeFileSync(join(dir, "root"), randomBytes(1536 * 1024 + 7));
    writeFileSync(join(dir, "vmlinuz"), "kernel of the next version");
    bundlePath = join(dir, "next.sovupdate");
    await writeBundle(bundlePath, { version: NEXT, board: "x86_64" }, [
      { name: "rootfs.ext4", target: "root", path: join(dir, "root") },
      { name: "vmlinuz", target: "boot", path: join(dir, "vmlinuz") },
    ], key);
    offer = await offerOf(bundlePath);
    makeSlots("alpha");
    makeSlots("bravo");

    broker = await Mosquitto.start();
    a = await federatedNode("alpha", broker.url, slots("alpha"));
    await a.app.listen({ host: "127.0.0.1", port: 0 });
    a.app.federation.issueManifest();
    bPort = await freePort();
    base = `http://127.0.0.1:${bPort}`;
    await startBravo();
    await pair(a, b, "core");
    await pair(b, a, "core");
    const A = a.app.identity.nodeId;
    await until(() => b.app.federation.peerHttpEndpoints(A).length > 0, "bravo to see alpha's HTTP endpoint");

    browser = await launchChromium();
    page = await (await newContext(browser, { viewport: { width: 1280, height: 900 } })).newPage();
    errors = watchErrors(page);
    page.on("request", (r) => {
      if (r.method() === "GET" && new URL(r.url()).pathname === "/api/update") updateGets++;
    });
    await page.goto(base);
    await page.getByLabel("Setup code").fill(readFileSync(join(b.dataDir, "setup-code"), "utf8").trim());
    await page.getByLabel("Admin username").fill(ADMIN.username);
    await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
    await page.getByLabel("Repeat password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Claim this node" }).click();
    await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    for (const t of [a, b]) await t?.close().catch(() => undefined);
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
    rmSync(bDataDir, { recursive: true, force: true });
  });

  it("shows the download in words, resumes it after a restart, applies it from the page, and counts it", async () => {
    const step = stepTrail("updatePagePull: pull, resume, apply", () => ({ pull: b.app.updatePeers.pull.status(), pending: b.app.update.status().pending }));
    step("open the Updates page");
    await openUpdates();
    await page.getByText("Shared with core peers: nothing").waitFor();
    const m0 = await metrics();
    expect(sample(m0, 'sovereign_update_pulls_total{outcome="pulled"}')).toBe(0);
    expect(sample(m0, "sovereign_update_pull_bytes_total")).toBe(0);

    // bravo's pull is stopped after the 5th chunk, as a shutdown would stop it; the page shows where it stands.
    step("share on alpha; bravo's pull stops after 5 chunks");
    const pull = b.app.updatePeers.pull;
    const stopped = stopPullAfter(pull, 5);
    await a.app.updatePeers.share(bundlePath, false);
    await stopped;
    const synced = 5 * CHUNK;
    step("reload: the page shows the stopped download");
    // Nothing was in progress, so the page did not poll; a reload shows the download.
    await openUpdates();
    const region = page.getByRole("region", { name: "Install an update" });
    await region.getByText(`Downloading ${NEXT} from peer alpha: `).waitFor();
    const shown = (await region.getByText(`Downloading ${NEXT} from peer alpha: `).textContent()) ?? "";
    const onDisk = pull.status()!.doneBytes;
    expect(onDisk).toBeGreaterThanOrEqual(synced);
    expect(shown).toBe(`Downloading ${NEXT} from peer alpha: ${Math.floor((onDisk / offer.size) * 100)} % (${fmtBytes(onDisk)} of ${fmtBytes(offer.size)})`);
    expect(await region.getByRole("progressbar", { name: "Download progress" }).count()).toBe(1);
    process.stdout.write(`page, while stopped: "${shown}" (bundle ${offer.size} bytes, ${synced} synced)\n`);
    // The fetched bytes of the stopped run count (the run has not ended: its bytes are read at scrape time).
    step("metrics and CLI while stopped");
    const m1 = await metrics();
    expect(sample(m1, "sovereign_update_pull_bytes_total")).toBe(pull.status()!.fetchedBytes);
    expect(sample(m1, "sovereign_update_pull_bytes_total")).toBeGreaterThanOrEqual(synced);

    // The CLI reads what the node keeps on disk: the synced bytes.
    const partial = await cli(["update", "status", "--json"]);
    expect(partial.status, partial.stderr).toBe(0);
    expect(JSON.parse(partial.stdout)).toMatchObject({ pull: { state: "partial", peer: a.app.identity.nodeId, version: NEXT, size: offer.size, sha256: offer.sha256, bytesOnDisk: synced }, offers: [] });
    const partialText = await cli(["update", "status"]);
    expect(partialText.stdout).toContain(`pull from peer ${a.app.identity.nodeId}: ${NEXT} for x86_64, ${synced} of ${offer.size} bytes on disk (${Math.floor((synced / offer.size) * 100)} %)`);
    expect(partialText.stdout).toContain("shared with core peers: none");

    // Restart bravo (same data dir, same port): the pull resumes at the synced mark and ends verified, waiting for the admin.
    step("restart bravo");
    await page.goto("about:blank");
    await b.close();
    await startBravo();
    step("wait for the resumed pull");
    await until(() => b.app.updatePeers.pull.status()?.phase === "pulled", "bravo to finish and verify the pull", 60_000);
    step("the page shows the verified, resumed bundle");
    await openUpdates();
    await region.getByText(`Version ${NEXT} was downloaded from peer alpha, resumed at ${fmtBytes(synced)} and verified.`).waitFor();
    await region.getByRole("heading", { name: `Verified bundle: version ${NEXT}` }).waitFor();
    await region.getByText("Board x86_64", { exact: false }).waitFor();
    await region.getByRole("region", { name: "Parts of the bundle" }).getByText("rootfs.ext4").waitFor();
    await region.getByRole("region", { name: "Parts of the bundle" }).getByText("vmlinuz").first().waitFor();
    expect(await region.getByRole("progressbar").count()).toBe(0);
    await shot(page, "updates-pulled");

    step("no polling while waiting for the admin");
    // Waiting for the admin is no phase in progress: no polling (two poll periods without a GET).
    const gets = updateGets;
    await new Promise((r) => setTimeout(r, 2500));
    expect(updateGets).toBe(gets);

    const m2 = await metrics();
    expect(sample(m2, 'sovereign_update_pulls_total{outcome="pulled"}')).toBe(1);
    expect(sample(m2, 'sovereign_update_pulls_total{outcome="failed"}')).toBe(0);
    // This process fetched only what the first run had not synced.
    expect(sample(m2, "sovereign_update_pull_bytes_total")).toBe(offer.size - synced);
    expect(JSON.parse((await cli(["update", "status", "--json"])).stdout)).toMatchObject({ pull: { state: "pulled", bytesOnDisk: offer.size, version: NEXT } });
    expect((await cli(["update", "status"])).stdout).toContain(`pulled from peer ${a.app.identity.nodeId}: ${NEXT} for x86_64 (${offer.size} bytes), verified`);

    step("apply from the page");
    // Apply from the page (a POST with the CSRF token), follow its progress, then the existing restart step.
    await region.getByRole("button", { name: "Apply the update from alpha" }).click();
    await page.getByText(`Version ${NEXT} is written to slot B.`).waitFor();
    await region.getByRole("button", { name: "Restart into the update" }).waitFor();
    await page.getByText(`Shared with core peers: ${NEXT} for x86_64 (${fmtBytes(offer.size)})`).waitFor();
    expect(b.app.audit.list({ type: "update.applied", limit: 5 })[0]?.details).toMatchObject({ via: "peer", slot: "b" });
    expect(JSON.parse((await cli(["update", "status", "--json"])).stdout)).toMatchObject({ pull: null, offers: [{ version: NEXT, board: "x86_64", size: offer.size, sha256: offer.sha256 }], pending: { slot: "b", version: NEXT } });
    await shot(page, "updates-pulled-applied");
    expect(errors).toEqual([]);
    expect(a11yViolations.filter((v) => v.page.startsWith("updates-pulled"))).toEqual([]);
  }, 180_000);

  it("shows a trial the health gate gave up, then the rollback with the gate's reason", async () => {
    const why = "readiness check database failed: disk I/O error";
    const svc = b.app.update;
    expect(svc.status().pending, "the first test applies the update this one restarts into").toMatchObject({ slot: "b", version: NEXT });
    svc.restart(null);
    // The machine comes up on slot B: the trial starts (reconcile reads the booted slot from the command line).
    writeFileSync(join(dir, "bravo/cmdline"), "ro sovereign.slot=b\n");
    svc.reconcile();
    expect(svc.status().trial).toMatchObject({ slot: "b", version: NEXT });
    svc.abandonTrial(why, () => undefined);
    await openUpdates();
    await page.getByText(`${NEXT} on slot B: the health check gave it up`).waitFor();
    expect((await page.getByText(`${NEXT} on slot B: the health check gave it up`).textContent()) ?? "").toContain(why);
    expect((await cli(["update", "status"])).stdout).toContain(`on trial: ${NEXT} on slot b, given up by the health gate at `);
    expect((await cli(["update", "status"])).stdout).toContain(`: ${why} (the previous slot boots next)`);

    // The plain reboot brings slot A back; its reconcile records the rollback.
    writeFileSync(join(dir, "bravo/cmdline"), "ro sovereign.slot=a\n");
    svc.reconcile();
    await openUpdates();
    const notice = page.getByRole("status").filter({ hasText: `Version ${NEXT} was rolled back` });
    await notice.waitFor();
    expect(await notice.textContent()).toContain(`the health gate gave it up: ${why}`);
    expect(await notice.textContent()).toContain("went back to the previous version on slot A");
    await shot(page, "updates-rolled-back");
    expect(sample(await metrics(), "sovereign_update_rollbacks_total")).toBe(1);
    expect((await cli(["update", "status"])).stdout).toContain(`last rollback: ${NEXT} at `);
    expect(JSON.parse((await cli(["update", "status", "--json"])).stdout)).toMatchObject({ rollback: { failedVersion: NEXT, failedSlot: "b" }, trial: null });
    expect(errors).toEqual([]);
    expect(a11yViolations.filter((v) => v.page === "updates-rolled-back")).toEqual([]);
  }, 60_000);
});
