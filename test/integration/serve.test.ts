import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBuilt, runCli, startServe } from "../helpers/cli.js";
import { notifySocket, waitFor } from "../helpers/notifySocket.js";

describe("sovereign serve", () => {
  let dir: string;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "sovereign-serve-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("serves /healthz, speaks sd_notify (READY, WATCHDOG, STOPPING) and exits 0 on SIGTERM", async () => {
    const sock = notifySocket(dir);
    try {
      const serve = await startServe(["--data-dir", join(dir, "data")], { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: "400000" });
      const res = await fetch(`${serve.url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ok" });

      await waitFor("READY=1", () => sock.messages.some((m) => m.text.split("\n").includes("READY=1")));
      await waitFor("two watchdog pings", () => sock.messages.filter((m) => m.text === "WATCHDOG=1").length >= 2);

      const code = await serve.stop("SIGTERM");
      expect(code).toBe(0);
      expect(sock.messages.map((m) => m.text)).toContain("STOPPING=1");
      // Nothing is sent after STOPPING.
      expect(sock.messages.at(-1)?.text).toBe("STOPPING=1");
      expect(serve.logs()).toContain("shutting down");
    } finally {
      sock.close();
    }
  });

  it("refuses to start with an invalid setting and names it", () => {
    const r = runCli(["serve", "--data-dir", join(dir, "d2")], { env: { SOVEREIGN_PORT: "http" } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("server.port");
    expect(r.stderr).toContain("SOVEREIGN_PORT");
    expect(r.stderr).toContain("an integer from 0 to 65535");
  });

  it("refuses a config file that is not JSON and names the file", () => {
    const cfg = join(dir, "bad.json");
    writeFileSync(cfg, "{ port: 1 ");
    const r = runCli(["serve", "--config", cfg]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(cfg);
    expect(r.stderr).toContain("not valid JSON");
  });

  it("refuses a missing explicit config file", () => {
    const r = runCli(["config", "show", "--config", join(dir, "nope.json")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("nope.json");
  });

  it("shows the effective config with its sources as JSON", () => {
    const cfg = join(dir, "ok.json");
    writeFileSync(cfg, JSON.stringify({ server: { port: 9911 } }));
    const r = runCli(["config", "show", "--json", "--config", cfg, "--log-level", "warn"], { env: { SOVEREIGN_HOST: "0.0.0.0" } });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { settings: Array<{ key: string; value: unknown; source: string }> };
    const get = (k: string) => out.settings.find((s) => s.key === k);
    expect(get("server.port")).toEqual({ key: "server.port", value: 9911, source: "file" });
    expect(get("server.host")).toMatchObject({ value: "0.0.0.0", source: "env" });
    expect(get("log.level")).toMatchObject({ value: "warn", source: "flag" });
  });
});
