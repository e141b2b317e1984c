import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../helpers/testApp.js";
import { requireTools } from "../helpers/requireTool.js";
import { a11yViolations, launchChromium, shot, waitInPage, watchErrors } from "./uiBrowser.js";

const ADMIN = { username: "admin", password: "correct horse battery" };
// Federation with the embedded broker on a free port, and no multicast DNS from a test.
const SETTINGS = { "server.host": "127.0.0.1", "auth.scryptLogN": 14, "federation.broker.port": 0, "federation.discovery": false };
const PAGES = ["dashboard", "chat", "memory", "models", "jobs", "peers", "audit", "users", "settings"] as const;

/** The page is drawn: its heading is there and no region still says it is loading. */
async function ready(page: Page, heading: RegExp | string): Promise<void> {
  await page.getByRole("heading", { level: 1, name: heading }).waitFor();
  // Polled from the test's side: the panel's CSP forbids the eval that waitForFunction polls with.
  await waitInPage(page, `!/Loading…|Checking what this node has|Checking the chain|Checking every event/.test(document.querySelector("main")?.textContent ?? "")`);
}

// The admin's journey after the first claim: the checklist, a setting, federation, the audit trail, the theme.
describe.runIf(requireTools("chromium"))("admin pages in Chromium", () => {
  let t: TestApp;
  let dataDir: string;
  let port = 0;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let other: TestApp | undefined;

  /** Starts (or restarts, as systemd would) the node on the same data dir and port. */
  async function start(): Promise<void> {
    t = await buildTestApp(SETTINGS, { dataDir });
    await t.app.listen({ port, host: "127.0.0.1" });
    port = (t.app.server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "sovereign-ui-admin-"));
    await start();
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    errors = watchErrors(page);
  });

  afterAll(async () => {
    await browser?.close();
    await other?.close();
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const item = (title: string) => page.getByRole("list", { name: "First-run checklist" }).getByRole("listitem").filter({ hasText: title });

  it("claims the node, then shows the first-run checklist from the node's real state", async () => {
    await page.goto(base);
    await page.getByRole("heading", { name: "Set up this node" }).waitFor();
    await page.getByLabel("Setup code").fill(readFileSync(join(dataDir, "setup-code"), "utf8").trim());
    await page.getByLabel("Admin username").fill(ADMIN.username);
    await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
    await page.getByLabel("Repeat password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Claim this node" }).click();
    await ready(page, "Dashboard");
    await page.getByRole("heading", { name: "Getting started" }).waitFor();
    await page.getByText("0 of 4 done.").waitFor();
    for (const title of ["Add a chat model", "Add an embedding model", "Turn on federation", "Make an API key"]) {
      await expect(item(title).getAttribute("data-done")).resolves.toBe("false");
    }
    // Each item links to the page that does it.
    await page.getByRole("link", { name: "Make a key" }).click();
    await page.getByRole("heading", { name: "Users & API keys", level: 1 }).waitFor();
    await page.getByLabel("Key name").fill("checklist key");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByTestId("new-key").waitFor();
    await page.getByRole("link", { name: "Dashboard" }).click();
    await ready(page, "Dashboard");
    await expect(item("Make an API key").getAttribute("data-done")).resolves.toBe("true");
    await page.getByText("1 of 4 done.").waitFor();
    await expect(page.getByTestId("todo-chat-model").getAttribute("href")).resolves.toBe("#/models");
    await expect(page.getByTestId("todo-embedding-model").getAttribute("href")).resolves.toBe("#/models");
  });

  it("edits a setting: validated, saved to the data dir's settings file, audited under the admin's name", async () => {
    await page.getByRole("link", { name: "Settings" }).click();
    await ready(page, "Settings");
    await expect(page.getByTestId("settings-advice").textContent()).resolves.not.toMatch(/`?sovereign config`?(?! show)/);
    // Grouped and searchable: a search opens only the groups that match.
    await page.getByLabel("Filter settings").fill("schedule");
    await page.getByRole("table", { name: "Node settings: Jobs" }).waitFor();
    await expect(page.getByRole("table", { name: "Node settings: Network" }).count()).resolves.toBe(0);
    await page.getByLabel("Filter settings").fill("");

    // A bad value is refused with the reason, and nothing is written.
    await page.getByLabel("New value for server.host").fill("not a host!");
    await page.getByRole("button", { name: "Save server.host" }).click();
    await page.getByRole("status").filter({ hasText: "server.host accepts an IP address" }).waitFor();

    await page.getByLabel("New value for auth.quotaTokensPerDay").fill("50000");
    await page.getByRole("button", { name: "Save auth.quotaTokensPerDay" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    // It needs a restart, which a node outside systemd cannot do itself: the page says how.
    const notice = page.getByTestId("restart-notice");
    await notice.filter({ hasText: "auth.quotaTokensPerDay" }).waitFor();
    await expect(notice.textContent()).resolves.toContain("npm start");
    expect(JSON.parse(readFileSync(join(dataDir, "settings.json"), "utf8"))).toEqual({ auth: { quotaTokensPerDay: 50000 } });

    await page.getByRole("link", { name: "Audit" }).click();
    await ready(page, "Audit");
    await page.getByText(/No checkpoints yet: the first is signed around/).waitFor();
    await page.getByLabel("Event type").selectOption("settings.changed");
    await page.getByLabel("By user").selectOption({ label: "admin" });
    await page.getByRole("button", { name: "Filter" }).click();
    const row = page.getByRole("table", { name: "Audit events, newest first" }).getByRole("row").filter({ hasText: "settings.changed" });
    await row.filter({ hasText: "auth.quotaTokensPerDay" }).waitFor();
    // The user's name, not the UUID.
    await expect(row.first().getByRole("cell").nth(3).textContent()).resolves.toBe("admin");
    await expect(row.first().textContent()).resolves.not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
  });

  it("turns federation on from the Peers page; after a restart it is on and the checklist says so", async () => {
    await page.getByRole("link", { name: "Peers" }).click();
    await ready(page, "Peers");
    await page.getByText("Federation is off:").waitFor();
    await page.getByLabel("Broker", { exact: true }).selectOption("embedded");
    await page.getByRole("button", { name: "Turn on federation" }).click();
    await page.getByText("starts after a restart").waitFor();
    expect(JSON.parse(readFileSync(join(dataDir, "settings.json"), "utf8")).federation).toEqual({ enabled: true, broker: { mode: "embedded" } });

    // What systemd does after "Restart now": the same node starts again on its data dir.
    await t.app.close();
    await start();
    await page.reload();
    await ready(page, "Peers");
    await page.getByText("Federation is on:").waitFor();
    await page.getByRole("button", { name: "Turn off federation" }).waitFor();
    await page.getByRole("link", { name: "Dashboard" }).click();
    await ready(page, "Dashboard");
    await expect(item("Turn on federation").getAttribute("data-done")).resolves.toBe("true");
  });

  it("approves a second node by its fingerprint, changes its tier and forgets it", async () => {
    // A real second node on this node's embedded broker.
    const port = t.app.federation.brokerPort;
    expect(port).toBeGreaterThan(0);
    other = await buildTestApp({ "node.name": "second-node", "federation.enabled": true, "federation.broker.mode": "external", "federation.broker.url": `mqtt://127.0.0.1:${port}`, "federation.discovery": false, "scheduler.enabled": false });
    const otherId = other.app.identity.nodeId;
    await page.getByRole("link", { name: "Peers" }).click();
    await ready(page, "Peers");
    // The page refreshes itself; the peer shows once its signed manifest has arrived.
    await page.getByRole("table", { name: "Known peers" }).getByText("second-node").waitFor({ timeout: 60_000 });
    await page.getByLabel("Fingerprint of second-node").fill("AAAA-BBBB-CCCC-DDDD");
    await page.getByRole("button", { name: "Approve" }).click();
    await page.getByRole("status").filter({ hasText: /fingerprint/i }).waitFor();
    expect(t.app.federation.peers().find((p) => p.nodeId === otherId)?.tier).toBe("unknown");

    await page.getByLabel("Fingerprint of second-node").fill(other.app.identity.fingerprint);
    await page.getByLabel("Tier for second-node").selectOption("core");
    await page.getByRole("button", { name: "Approve" }).click();
    await page.getByText("Approved second-node as core.").waitFor();
    await page.getByLabel("Tier of second-node").selectOption("sandbox");
    await page.getByRole("button", { name: "Set tier" }).click();
    await page.getByText("second-node is now sandbox.").waitFor();
    expect(t.app.federation.peers().find((p) => p.nodeId === otherId)?.tier).toBe("sandbox");
    await shot(page, "admin-peers-approved");

    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Forget" }).click();
    await page.getByText("Forgot second-node.").waitFor();
    expect(t.app.federation.peers().find((p) => p.nodeId === otherId)).toBeUndefined();
    await other.close();
    other = undefined;
  }, 120_000);

  it("switches between light and dark, and remembers the choice", async () => {
    await page.getByRole("link", { name: "Dashboard" }).click();
    await ready(page, "Dashboard");
    const toggle = page.getByRole("button", { name: "Dark theme" });
    const theme = () => page.evaluate("document.documentElement.dataset.theme");
    await expect(theme()).resolves.toBe("light");
    await toggle.click();
    await expect(theme()).resolves.toBe("dark");
    await expect(toggle.getAttribute("aria-pressed")).resolves.toBe("true");
    await page.reload();
    await ready(page, "Dashboard");
    await expect(theme()).resolves.toBe("dark");
    await page.getByRole("button", { name: "Dark theme" }).click();
    await expect(theme()).resolves.toBe("light");
    // Without a stored choice, the system's preference decides.
    const dark = await browser.newContext({ viewport: { width: 800, height: 600 }, colorScheme: "dark" });
    const other = await dark.newPage();
    await other.goto(base);
    await other.getByRole("heading", { level: 1 }).waitFor();
    await expect(other.evaluate("document.documentElement.dataset.theme")).resolves.toBe("dark");
    await dark.close();
  });

  it("photographs every page at 1280×800 and 390×800 in both themes, each checked by axe-core", async () => {
    const storageState = await context.storageState();
    for (const [width, height] of [[1280, 800], [390, 800]] as const) {
      for (const theme of ["light", "dark"] as const) {
        const ctx = await browser.newContext({ storageState, viewport: { width, height }, ...(width < 500 ? { isMobile: true, hasTouch: true } : {}) });
        await ctx.addInitScript(`localStorage.setItem("sovereign-theme", "${theme}")`);
        const p = await ctx.newPage();
        const pageErrors = watchErrors(p);
        for (const id of PAGES) {
          await p.goto(`${base}/#/${id}`);
          await ready(p, /./);
          await shot(p, `admin-${width}-${theme}-${id}`);
        }
        await ctx.close();
        expect(pageErrors).toEqual([]);
      }
    }
  }, 300_000);

  it("has no serious accessibility violations on any page, in either theme", () => {
    const serious = a11yViolations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(serious).toEqual([]);
    expect(errors).toEqual([]);
  });
});
