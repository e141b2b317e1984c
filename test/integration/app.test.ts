import { afterEach, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../helpers/testApp.js";

describe("buildApp", () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("answers /healthz without credentials and never listens", async () => {
    t = await buildTestApp();
    expect(t.app.server.listening).toBe(false);
    const res = await t.app.inject({ method: "GET", url: "/healthz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "ok" });
  });

  it("answers unknown routes with the documented error shape", async () => {
    t = await buildTestApp();
    const res = await t.app.inject({ method: "GET", url: "/no/such/route?x=1", headers: { host: "localhost" } });
    expect([401, 404]).toContain(res.statusCode);
    const body = res.json() as { error: { code: string; message: string }; requestId: string };
    expect(typeof body.error.code).toBe("string");
    expect(body.error.message.length).toBeGreaterThan(0);
    expect(typeof body.requestId).toBe("string");
  });

  it("reports every registered health check on /readyz to a local caller", async () => {
    t = await buildTestApp();
    const checks = await t.app.health.run();
    expect(Object.keys(checks)).toContain("event-loop");
    expect(checks["event-loop"]?.ok).toBe(true);
  });

  it("creates a missing data dir with mode 0700", async () => {
    const { statSync, mkdtempSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const base = mkdtempSync(join(tmpdir(), "sovereign-app-"));
    const nested = join(base, "a", "data");
    try {
      t = await buildTestApp({ "paths.dataDir": nested });
      expect(statSync(nested).mode & 0o777).toBe(0o700);
      // The database holds password and key hashes: owner-only, WAL included.
      for (const f of ["sovereign.db", "sovereign.db-wal"]) expect(statSync(join(nested, f)).mode & 0o777, f).toBe(0o600);
    } finally {
      await t?.close();
      t = undefined;
      rmSync(base, { recursive: true, force: true });
    }
  });
});
