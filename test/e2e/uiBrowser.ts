import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from "playwright-core";

/**
 * The longest one wait may take before the test fails. Every wait follows readiness (an
 * element shown, a response received), so a loaded machine only makes the suite slower;
 * this cap only stops a real hang. SOVEREIGN_E2E_WAIT_MS overrides it.
 */
export const WAIT_MS = Number(process.env.SOVEREIGN_E2E_WAIT_MS ?? 300_000);

/** A browser context whose actions, waits and navigations all use WAIT_MS. */
export async function newContext(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  return context;
}

/** Debian's chromium, headless, with everything that would reach the network turned off. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

export const screenshotDir = join(import.meta.dirname, "..", "..", "test-artifacts", "screenshots");

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** An accessibility problem axe-core found (WCAG 2.x A and AA rules), with where it was seen. */
export interface A11yViolation {
  page: string;
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** Every violation seen by shot(), for one assertion at the end of a suite. */
export const a11yViolations: A11yViolation[] = [];

/** Every state shot() audited: its page heading and how many axe rules it passed, so a suite can tell it audited real pages. */
export const a11yChecked: Array<{ page: string; heading: string; rulesPassed: number }> = [];

/** The panel has drawn a page: a heading in #main and nothing there still "Loading…". */
const RENDERED = `(() => { const m = document.querySelector("#main"); return document.readyState === "complete" && !!m && !!m.querySelector("h1")?.textContent?.trim() && !m.textContent.includes("Loading…"); })()`;

/**
 * Polls a page expression from the test's side (e.g. RENDERED). page.waitForFunction would evaluate the
 * first try over the DevTools protocol but poll with eval inside the page,
 * which the panel's CSP (script-src 'self') forbids: it threw whenever a page
 * was still loading at the first check, i.e. on a busy machine.
 */
export async function waitInPage(page: Page, expression: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`the page did not reach ${expression.slice(0, 80)}… within ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Waits until the page is rendered, then takes a full-page screenshot into
 * test-artifacts/screenshots/<name>.png (gitignored, kept by CI as an artifact)
 * and runs an axe-core audit of the same state.
 */
export async function shot(page: Page, name: string, { fullPage = true } = {}): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  await waitInPage(page, RENDERED);
  // Let fonts and the last render settle so the picture shows what a person sees.
  await page.evaluate("document.fonts.ready");
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage });
  // Evaluated over the DevTools protocol, so the page's strict CSP needs no exception.
  if (!(await page.evaluate("typeof window.axe !== 'undefined'"))) await page.evaluate(axeSource);
  const result = (await page.evaluate(
    `axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }).then((r) => ({ passes: r.passes.length, violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => String(n.target)) })) }))`,
  )) as { passes: number; violations: Omit<A11yViolation, "page">[] };
  a11yViolations.push(...result.violations.map((v) => ({ page: name, ...v })));
  const heading = (await page.locator("#main h1").first().textContent())?.trim() ?? "";
  a11yChecked.push({ page: name, heading, rulesPassed: result.passes });
}

/** Collects script errors so a test can assert the page ran cleanly. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}
