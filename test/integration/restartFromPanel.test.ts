import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, startServe } from "../helpers/cli.js";

describe("Restart now (the panel), under systemd", () => {
  let dir: string;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "sovereign-restart-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("answers 202, stops gracefully and exits 75, the status the unit restarts", async () => {
    const dataDir = join(dir, "data");
    // systemd sets INVOCATION_ID for every service it starts: the sign that something will start the node again.
    const serve = await startServe(["--data-dir", dataDir, "--shed-event-loop-delay-ms", "60000", "--scrypt-log-n", "14"], { INVOCATION_ID: "0123456789abcdef" });
    const exited = new Promise<number | null>((resolve) => serve.child.once("exit", resolve));
    try {
      const code = readFileSync(join(dataDir, "setup-code"), "utf8").trim();
      const origin = serve.url;
      const claim = await fetch(`${serve.url}/api/setup/claim`, { method: "POST", headers: { "content-type": "application/json", origin }, body: JSON.stringify({ code, username: "admin", password: "admin password 123" }) });
      expect(claim.status).toBe(201);
      const csrf = ((await claim.json()) as { csrfToken: string }).csrfToken;
      const cookie = claim.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
      const state = await fetch(`${serve.url}/api/settings/editable`, { headers: { cookie } });
      expect(((await state.json()) as { restart: { available: boolean } }).restart.available).toBe(true);

      const r = await fetch(`${serve.url}/api/settings/restart`, { method: "POST", headers: { cookie, "x-csrf-token": csrf, origin } });
      expect(r.status).toBe(202);
      expect(await exited).toBe(75);
      expect(serve.logs()).toContain("restart requested");
      expect(serve.logs()).toContain('"msg":"stopped"');
    } finally {
      serve.child.kill("SIGKILL");
    }
  });
});
