import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";
import type { TestApp } from "../helpers/testApp.js";
import { launchChromium, shot, watchErrors } from "../e2e/uiBrowser.js";
import { buildAuthTestApp, claim } from "./authHelpers.js";

describe.runIf(requireTools("chromium"))("Audit page in Chromium", () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    t = await buildAuthTestApp({ "server.host": "127.0.0.1" });
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it("shows the chain as intact, lists events newest first, filters by type and shows a break", async () => {
    const admin = await claim(t.app, t.dataDir);
    for (let i = 0; i < 60; i++) t.app.audit.record({ type: i % 2 ? "test.odd" : "test.even", actor: "system", subject: `thing-${i}`, details: { i } });
    t.app.audit.checkpoint("test");
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addCookies(
      admin.cookie.split("; ").map((c) => {
        const [name, ...v] = c.split("=");
        return { name: name!, value: v.join("="), url: base };
      }),
    );
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${base}/#/audit`);
    await page.getByRole("heading", { name: "Audit", level: 1 }).waitFor();
    await page.getByText(/intact/).waitFor();
    await page.getByText(/shown of \d+ events/).waitFor();
    const firstSeq = await page.locator("tbody tr").first().locator("td").first().textContent();
    expect(Number(firstSeq)).toBe(t.app.audit.head().seq);
    await page.getByRole("button", { name: "Older events" }).click();
    await page.getByText(/^\d+ shown/).filter({ hasText: /^(?!50 )/ }).waitFor();
    await page.getByLabel("Event type").selectOption("test.odd");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByText("30 shown of", { exact: false }).waitFor();
    await shot(page, "audit-intact");

    t.app.db.sqlite.prepare("UPDATE audit_events SET actor = 'mallory' WHERE seq = 10").run();
    await page.getByRole("button", { name: "Verify again" }).click();
    await page.getByRole("alert").filter({ hasText: "at event 10" }).waitFor();
    await shot(page, "audit-broken");
    expect(errors).toEqual([]);
    await context.close();
  });
});
