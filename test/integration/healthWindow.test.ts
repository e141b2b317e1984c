import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../helpers/testApp.js";

/** Holds the event loop, as start-up work or a long synchronous request would. */
function block(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spin
  }
}

describe("the event-loop self-check's window", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ "watchdog.maxEventLoopDelayMs": 150 });
  });
  afterAll(() => t.close());

  it("counts a block since the last check, and a new window (the watchdog's start) forgets what came before", async () => {
    block(400);
    await new Promise((r) => setTimeout(r, 50));
    const seen = await t.app.health.run({ livenessOnly: true });
    expect(seen["event-loop"]).toMatchObject({ ok: false, detail: expect.stringMatching(/^event loop blocked for \d+ ms \(limit 150 ms\)$/) });

    block(400);
    await new Promise((r) => setTimeout(r, 50));
    t.app.health.resetWindows();
    await new Promise((r) => setTimeout(r, 50));
    expect((await t.app.health.run({ livenessOnly: true }))["event-loop"]?.ok).toBe(true);
  });
});
