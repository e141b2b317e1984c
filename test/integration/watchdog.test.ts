import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, startServe } from "../helpers/cli.js";
import { notifySocket, waitFor } from "../helpers/notifySocket.js";
import { buildTestApp } from "../helpers/testApp.js";

describe("systemd watchdog", () => {
  let dir: string;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "sovereign-watchdog-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("feeds WATCHDOG=1 while healthy, stops while the event loop is blocked, withholds it after, resumes, and says STOPPING=1 on SIGTERM", async () => {
    const sock = notifySocket(dir);
    const blockMs = 3000;
    try {
      const serve = await startServe(["--data-dir", join(dir, "data"), "--max-event-loop-delay-ms", "500"], {
        NOTIFY_SOCKET: sock.path,
        WATCHDOG_USEC: "400000",
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import ${join(import.meta.dirname, "watchdogBlocker.mjs")}`,
        SOVEREIGN_TEST_BLOCK_MS: String(blockMs),
      });
      const pings = () => sock.messages.filter((m) => m.text === "WATCHDOG=1");
      await waitFor("READY=1", () => sock.messages.some((m) => m.text.split("\n").includes("READY=1")));
      await waitFor("three watchdog pings", () => pings().length >= 3);

      const before = pings().length;
      const sentAt = Date.now();
      serve.child.kill("SIGUSR2");
      await waitFor("the block to end", () => serve.logs().includes("test-blocker: unblocked"), 20_000);
      const unblockedSeenAt = Date.now();
      // The self-check after the block sees the delay and withholds the ping.
      await waitFor("a withheld ping", () => serve.logs().includes("self-check failed; withholding watchdog ping"), 30_000).catch((err: Error) => {
        // Seen once in CI on a loaded machine; keep what the server said for the next look.
        throw new Error(`${err.message}\n--- server log (tail) ---\n${serve.logs().slice(-4000)}`);
      });
      expect(serve.logs()).toMatch(/event loop blocked for \d+ ms/);
      // Pings resume once the loop is responsive again.
      await waitFor("pings to resume", () => pings().some((p) => p.at > unblockedSeenAt + 100), 10_000);

      // While blocked, nothing came: at most one ping already in flight at the signal, none for the rest of the block.
      const during = pings().filter((p) => p.at > sentAt + 300 && p.at < sentAt + blockMs - 100);
      expect(during).toEqual([]);
      expect(pings().length).toBeGreaterThan(before);

      const code = await serve.stop("SIGTERM");
      expect(code).toBe(0);
      expect(sock.messages.at(-1)?.text).toBe("STOPPING=1");
    } finally {
      sock.close();
    }
  });
});

describe("liveness checks", () => {
  it("include a committed database write and inference progress, and fail when the database cannot be written", async () => {
    const t = await buildTestApp();
    try {
      const ok = await t.app.health.run({ livenessOnly: true });
      expect(Object.keys(ok).sort()).toEqual(expect.arrayContaining(["db-writable", "event-loop", "inference-progress"]));
      expect(ok["db-writable"]).toMatchObject({ ok: true });
      expect(ok["inference-progress"]).toMatchObject({ ok: true });
      const beats = t.app.db.sqlite.prepare("SELECT beats FROM watchdog_heartbeat").get() as { beats: number };
      expect(beats.beats).toBe(1);
      // A read-only connection stands in for a database that refuses writes (read-only remount, lock held).
      t.app.db.sqlite.pragma("query_only = ON");
      const bad = await t.app.health.run({ livenessOnly: true });
      expect(bad["db-writable"]?.ok).toBe(false);
      t.app.db.sqlite.pragma("query_only = OFF");
    } finally {
      await t.close();
    }
  });
});
