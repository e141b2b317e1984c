import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loggerOptions, redactUrl } from "../../appliance/logger.js";
import type { TestApp } from "../helpers/testApp.js";
import { as, buildAuthAppWith, claim, type Session } from "./authHelpers.js";

/** Every line the node logs at `level`, through the production logger options. */
function capture(level: "trace" | "debug" | "info") {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  return { lines, logger: pino({ ...loggerOptions({ "log.level": level, "log.format": "json" }), level }, stream) };
}

/**
 * Issue 16, finding 7: memory search text and other user content reached the
 * log in request URLs, and 110,000 rejected requests made a 65 MB log.
 */
describe("logs: no user content from query strings, and repeated rejections are sampled", () => {
  let t: TestApp;
  let admin: Session;
  const { lines, logger } = capture("trace");
  beforeAll(async () => {
    t = await buildAuthAppWith(() => {}, { "limits.ratePerIpPerMinute": 100_000 }, { logger });
    admin = await claim(t.app, t.dataDir);
  });
  afterAll(async () => t?.close());

  it("redacts query values in logged URLs, keeping the path and the parameter names", () => {
    expect(redactUrl("/api/memory/search?q=my%20diary&limit=5")).toBe("/api/memory/search?q=…&limit=…");
    expect(redactUrl("/api/memory")).toBe("/api/memory");
    expect(redactUrl("/x?")).toBe("/x?");
  });

  it("a memory search's text never reaches the log, even at trace", async () => {
    const secret = "zebra-passport-4711";
    await t.app.inject({ method: "POST", url: "/api/memory", headers: as(admin), payload: { text: `the ${secret} is in the drawer` } });
    lines.length = 0;
    const res = await t.app.inject({ url: `/api/memory/search?q=${secret}&tags=${secret}`, headers: as(admin) });
    expect(res.statusCode).toBe(200);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => l.includes(secret))).toEqual([]);
    expect(lines.some((l) => l.includes("/api/memory/search"))).toBe(true);
  });

  it("300 refusals of the same kind from one address log a handful of lines, then a count", async () => {
    lines.length = 0;
    for (let i = 0; i < 300; i++) await t.app.inject({ url: "/api/users", remoteAddress: "192.168.1.90", headers: { authorization: "Bearer sk-sov-not-a-real-key" } });
    const refused = lines.filter((l) => (JSON.parse(l) as { msg?: string }).msg === "request refused");
    process.stdout.write(`logs: 300 refusals from one address -> ${refused.length} "request refused" lines, ${lines.length} lines in all at trace\n`);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThanOrEqual(10);
    // At most the access lines (one debug, one trace per request) besides them: the refusals themselves no longer scale with the flood.
    expect(lines.length).toBeLessThanOrEqual(2 * 300 + 10);
  });
});
