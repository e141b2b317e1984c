import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSecretKey, publicKeyOf } from "../../core/ed25519.js";
import { packageVersion } from "../../core/packageVersion.js";
import { writeBundle } from "../../image/lib/bundle.js";
import { requireTools } from "../helpers/requireTool.js";
import { buildTestApp, type TestApp } from "../helpers/testApp.js";
import { a11yViolations, launchChromium, newContext, shot, watchErrors } from "../e2e/uiBrowser.js";

const ADMIN = { username: "admin", password: "correct horse battery" };
const NEXT = `${packageVersion()}.1`;

// The admin's path through the Updates page: upload, watch it verify and write, read the manifest, restart into it.
describe.runIf(requireTools("chromium"))("Updates page in Chromium", () => {
  let dir: string;
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sovereign-update-page-"));
    const key = generateSecretKey();
    for (const s of ["a", "b"]) writeFileSync(join(dir, `slot-${s}`), randomBytes(1024 * 1024));
    mkdirSync(join(dir, "esp/loader/entries"), { recursive: true });
    writeFileSync(join(dir, "esp/loader/entries/sovereign-a.conf"), "title a\nversion 1\noptions sovereign.slot=a\n");
    writeFileSync(join(dir, "cmdline"), "ro sovereign.slot=a\n");
    writeFileSync(join(dir, "root"), randomBytes(512 * 1024));
    writeFileSync(join(dir, "vmlinuz"), "kernel");
    await writeBundle(join(dir, "next.sovupdate"), { version: NEXT, board: "x86_64" }, [
      { name: "rootfs.ext4", target: "root", path: join(dir, "root") },
      { name: "vmlinuz", target: "boot", path: join(dir, "vmlinuz") },
    ], key);
    t = await buildTestApp({
      "server.host": "127.0.0.1", "auth.scryptLogN": 14, "node.board": "x86_64",
      "update.trustedKeys": [Buffer.from(publicKeyOf(key)).toString("hex")],
      "update.slotA": join(dir, "slot-a"), "update.slotB": join(dir, "slot-b"),
      "update.bootDir": join(dir, "esp"), "update.bootMethod": "systemd-boot",
      "update.bootedSlotSource": join(dir, "cmdline"),
      "update.rebootCommand": ["touch", join(dir, "rebooted")],
    });
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    page = await (await newContext(browser, { viewport: { width: 1280, height: 900 } })).newPage();
    errors = watchErrors(page);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("uploads a bundle with progress, shows the verified manifest and the pending slot, and restarts into it", async () => {
    await page.goto(base);
    await page.getByLabel("Setup code").fill(readFileSync(join(t.dataDir, "setup-code"), "utf8").trim());
    await page.getByLabel("Admin username").fill(ADMIN.username);
    await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
    await page.getByLabel("Repeat password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Claim this node" }).click();
    await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();

    await page.getByRole("link", { name: "Updates" }).click();
    await page.getByRole("heading", { level: 1, name: "Updates" }).waitFor();
    await page.getByRole("region", { name: "System slots" }).getByText("yes (running now)").waitFor();
    await page.getByLabel("Update bundle (.sovupdate)").setInputFiles(join(dir, "next.sovupdate"));
    await page.getByRole("button", { name: "Upload and verify" }).click();
    await page.getByRole("heading", { name: `Verified bundle: version ${NEXT}` }).waitFor();
    await page.getByRole("region", { name: "Parts of the bundle" }).getByText("rootfs.ext4").waitFor();
    await page.getByText(`Version ${NEXT} is written to slot B.`).waitFor();
    await shot(page, "updates-verified");

    await page.getByRole("button", { name: "Restart into the update" }).click();
    await page.getByText("(restart requested)").waitFor();
    for (let i = 0; i < 100 && !existsSync(join(dir, "rebooted")); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(dir, "rebooted"))).toBe(true);
    expect(errors).toEqual([]);
    expect(a11yViolations.filter((v) => v.page === "updates-verified")).toEqual([]);
  });
});
