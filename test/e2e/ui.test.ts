import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../helpers/testApp.js";
import { requireTools } from "../helpers/requireTool.js";
import { genLlamaModel } from "../models/genLlamaModel.js";
import { a11yChecked, a11yViolations, launchChromium, newContext, shot, WAIT_MS, watchErrors } from "./uiBrowser.js";

const ADMIN = { username: "admin", password: "correct horse battery" };

// The main menu: pages also link to each other (the dashboard's checklist links to Models), so menu clicks look only there.
const nav = (p: Page) => p.getByRole("navigation", { name: "Main" });

// Every screen shot() photographs and audits; the accessibility test checks that each was.
const SCREENS = ["01-setup", "01b-setup-wrong-code", "02-dashboard", "03-login-refused", "04-models", "05-memory", "06-chat", "06b-chat-stopped", "07-jobs", "08-settings", "08b-peers", "08c-audit", "09-users-keys", "10a-phone-dashboard", "10-phone-menu", "10b-phone-chat", "11-logged-out", "12-session-ended"];

// One server, one browser, one story: each step builds on the one before (as a person would use it).
// Waits follow readiness (an element shown, a response received), never a fixed time: a loaded
// machine makes the story slower, not red. WAIT_MS only caps a real hang, for one wait or one step.
describe.runIf(requireTools("chromium"))("web panel in Chromium", { timeout: 3 * WAIT_MS }, () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let modelPath: string;

  beforeAll(async () => {
    t = await buildTestApp({ "server.host": "127.0.0.1", "inference.maxTokensDefault": 24 });
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    modelPath = join(t.dataDir, "tiny-e2e.gguf");
    genLlamaModel(modelPath, { shape: "tiny", name: "tiny-e2e" });
    browser = await launchChromium();
    context = await newContext(browser, { viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    errors = watchErrors(page);
  }, 2 * WAIT_MS);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it("claims the node with the setup code", async () => {
    await page.goto(base);
    await expect(page.getByRole("heading", { name: "Set up this node" }).waitFor()).resolves.toBeUndefined();
    await shot(page, "01-setup");
    const code = readFileSync(join(t.dataDir, "setup-code"), "utf8").trim();
    // A wrong code first: a clear refusal, and the form stays.
    await page.getByLabel("Setup code").fill("wrong-code-000000");
    await page.getByLabel("Admin username").fill(ADMIN.username);
    await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
    await page.getByLabel("Repeat password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Claim this node" }).click();
    await page.getByRole("alert").filter({ hasText: /./ }).waitFor();
    await shot(page, "01b-setup-wrong-code");
    await page.getByLabel("Setup code").fill(code);
    await page.getByRole("button", { name: "Claim this node" }).click();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  });

  it("shows the dashboard with hardware, tuning and live stats", async () => {
    await page.getByRole("heading", { name: "Tuning" }).waitFor();
    await page.getByRole("table", { name: "Tuning" }).waitFor();
    // The live channel (SSE) delivers a CPU figure after its second sample.
    await page.locator("#live .stat").first().filter({ hasText: "%" }).waitFor();
    await shot(page, "02-dashboard");
  });

  it("logs out, refuses a wrong password, and logs in", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("heading", { name: "Log in" }).waitFor();
    await page.getByLabel("Username").fill(ADMIN.username);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("alert").filter({ hasText: /./ }).waitFor();
    await shot(page, "03-login-refused");
    await page.getByLabel("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  });

  it("uploads a model and makes it the default", async () => {
    await nav(page).getByRole("link", { name: "Models" }).click();
    await page.getByRole("heading", { name: "Models", level: 1 }).waitFor();
    await page.getByLabel("GGUF file").setInputFiles(modelPath);
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    await page.getByRole("cell", { name: /tiny-e2e/ }).first().waitFor();
    await page.getByRole("button", { name: "Set default: tiny-e2e" }).click();
    await page.getByText("default (loaded)").waitFor();
    await page.getByRole("button", { name: "Verify tiny-e2e" }).click();
    await page.getByText("tiny-e2e: checksum and format verified.").waitFor();
    await shot(page, "04-models");
  });

  it("adds a note to memory, uploads a document, and finds them by search", async () => {
    await nav(page).getByRole("link", { name: "Memory" }).click();
    await page.getByRole("textbox", { name: "Note" }).fill("The spare key to the greenhouse is under the blue flowerpot.");
    await page.getByRole("button", { name: "Add note" }).click();
    await page.getByText("Note saved.").waitFor();
    await page.getByLabel("Search memory").fill("greenhouse key");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByText(/blue flowerpot/).first().waitFor();
    await page.getByLabel("Document", { exact: true }).setInputFiles({ name: "bees.md", mimeType: "text/markdown", buffer: Buffer.from("# Bees\n\nThe hives are checked every second Sunday in spring.\n") });
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    await page.getByText("Uploaded bees.md.").waitFor();
    await page.getByLabel("Search memory").fill("hives spring");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByText(/second Sunday/).first().waitFor();
    await shot(page, "05-memory");
  });

  it("streams a chat answer from the model, and stops one", async () => {
    await nav(page).getByRole("link", { name: "Chat" }).click();
    await page.getByRole("textbox", { name: "Message" }).fill("Where is the greenhouse key?");
    await page.getByRole("button", { name: "Send" }).click();
    const answer = page.locator(".msg.assistant .body").last();
    await expect.poll(async () => (await answer.textContent())?.length ?? 0, { timeout: WAIT_MS }).toBeGreaterThan(0);
    await page.getByRole("button", { name: "Send" }).and(page.locator(":not([disabled])")).waitFor();
    // The note added before is cited under the answer.
    await page.getByText(/^From memory \(\d+\)$/).click();
    await page.locator(".citations").getByText(/blue flowerpot/).waitFor();
    // Thumbs down with a correction.
    await page.getByRole("button", { name: "Not helpful" }).click();
    await page.getByLabel("What should the answer have been? (optional)").fill("Under the blue flowerpot by the door.");
    await page.getByRole("button", { name: "Send feedback" }).click();
    await page.getByText("Thanks: the correction is now in memory.").waitFor();
    // The conversation was stored and is listed; opened again, it shows the turn and its citations.
    await page.getByRole("list", { name: "Conversations" }).getByRole("button", { name: /greenhouse/ }).waitFor();
    await page.reload();
    await page.locator(".msg.user").filter({ hasText: "Where is the greenhouse key?" }).waitFor();
    await page.getByText(/^From memory \(\d+\)$/).waitFor();
    await shot(page, "06-chat");

    // The stop button aborts a running stream (the fetch is aborted; the node cancels generation).
    await page.getByLabel("Answer length").selectOption("1024");
    await page.getByRole("textbox", { name: "Message" }).fill("Tell me a long story");
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByRole("button", { name: "Stop" }).click();
    await page.getByRole("button", { name: "Send" }).and(page.locator(":not([disabled])")).waitFor();
    await page.getByRole("status").filter({ hasText: "Stopped." }).waitFor();
    await shot(page, "06b-chat-stopped");
  });

  it("runs a job now and shows its history, the settings, and the peers and audit slots", async () => {
    await nav(page).getByRole("link", { name: "Jobs" }).click();
    await page.getByRole("heading", { name: "Jobs", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Run now: db-checkpoint" }).click();
    await page.getByRole("heading", { name: "History of db-checkpoint" }).waitFor();
    await page.getByRole("table", { name: "Runs of db-checkpoint" }).getByRole("cell", { name: "manual" }).waitFor();
    await shot(page, "07-jobs");
    await nav(page).getByRole("link", { name: "Settings" }).click();
    await page.getByRole("heading", { name: "Settings", level: 1 }).waitFor();
    await page.getByLabel("Filter settings").fill("maxTokensDefault");
    await page.getByRole("table", { name: "Node settings" }).getByText("inference.maxTokensDefault").waitFor();
    // A password change rotates the session; the page keeps working with the new CSRF token (the key step below).
    await page.getByLabel("Current password").fill(ADMIN.password);
    await page.getByLabel("New password", { exact: true }).fill(`${ADMIN.password} 2`);
    await page.getByLabel("Repeat new password").fill(`${ADMIN.password} 2`);
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByText("Password changed.").waitFor();
    await shot(page, "08-settings");
    // The slots other services fill (a page file each); until then they say so.
    for (const [title, file] of [["Peers", "08b-peers"], ["Audit", "08c-audit"]] as const) {
      await nav(page).getByRole("link", { name: title }).click();
      await page.getByRole("heading", { name: title, level: 1 }).waitFor();
      // shot() waits until the page has drawn its data (nothing "Loading…").
      await shot(page, file);
    }
  });

  it("creates an API key, shown once, that works with the openai client", async () => {
    await nav(page).getByRole("link", { name: "Users & keys" }).click();
    await page.getByLabel("Key name").fill("e2e script");
    await page.getByRole("button", { name: "Create key" }).click();
    const key = (await page.getByTestId("new-key").textContent())?.trim() ?? "";
    expect(key.length).toBeGreaterThan(20);
    await shot(page, "09-users-keys");

    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
    const r = await client.chat.completions.create({ model: "tiny-e2e", messages: [{ role: "user", content: "Hello" }], max_tokens: 8 });
    expect(r.choices[0]?.message.content?.length ?? 0).toBeGreaterThan(0);
  });

  it("is usable on a phone-sized screen, in the dark color scheme too", async () => {
    // Same session, a phone's viewport, and the OS asking for dark colors.
    const phoneContext = await newContext(browser, { storageState: await context.storageState(), viewport: { width: 390, height: 844 }, colorScheme: "dark", hasTouch: true, isMobile: true });
    const phone = await phoneContext.newPage();
    const phoneErrors = watchErrors(phone);
    await phone.goto(`${base}/#/dashboard`);
    await phone.getByRole("table", { name: "Tuning" }).waitFor();
    await shot(phone, "10a-phone-dashboard");
    const menu = phone.getByRole("button", { name: "Menu" });
    await menu.click();
    await expect(menu.getAttribute("aria-expanded")).resolves.toBe("true");
    await shot(phone, "10-phone-menu", { fullPage: false });
    await nav(phone).getByRole("link", { name: "Chat" }).click();
    await phone.getByRole("heading", { name: "Chat" }).waitFor();
    await expect(menu.getAttribute("aria-expanded")).resolves.toBe("false");
    await shot(phone, "10b-phone-chat", { fullPage: false });
    await phoneContext.close();
    expect(phoneErrors).toEqual([]);
  });

  it("logs out; another tab then meets a clear 'session ended' message and returns to where it was", async () => {
    const other = await context.newPage();
    const otherErrors = watchErrors(other);
    await other.goto(`${base}/#/memory`);
    await other.getByRole("heading", { name: "Memory", level: 1 }).waitFor();

    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("heading", { name: "Log in" }).waitFor();
    await shot(page, "11-logged-out");
    const status = await page.evaluate(`fetch("/api/status").then((r) => r.status)`);
    expect(status).toBe(401);

    // The other tab's next request finds the session gone.
    await other.getByRole("button", { name: "Latest" }).click();
    await other.getByRole("heading", { name: "Log in" }).waitFor();
    await other.getByText(/Your session has ended/).waitFor();
    await shot(other, "12-session-ended");
    await other.getByLabel("Username").fill(ADMIN.username);
    await other.getByLabel("Password").fill(`${ADMIN.password} 2`);
    await other.getByRole("button", { name: "Log in" }).click();
    await other.getByRole("heading", { name: "Memory", level: 1 }).waitFor();
    await other.getByRole("button", { name: "Log out" }).click();
    await other.getByRole("heading", { name: "Log in" }).waitFor();
    await other.close();
    expect(errors).toEqual([]);
    expect(otherErrors).toEqual([]);
  });

  it("passes axe-core's WCAG 2.1 A/AA rules on every page it photographed", () => {
    // Fails when the story did not reach a screen (run alone, or an earlier step failed): an audit of nothing proves nothing.
    expect(a11yChecked.length).toBeGreaterThan(0);
    expect(a11yChecked.map((c) => c.page)).toEqual(SCREENS);
    for (const c of a11yChecked) {
      expect(c.heading, `${c.page} was audited without a page heading`).not.toBe("");
      expect(c.rulesPassed, `${c.page}: axe passed no rule`).toBeGreaterThan(0);
    }
    expect(a11yViolations).toEqual([]);
  });
});
