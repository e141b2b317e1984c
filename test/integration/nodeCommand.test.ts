import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBuilt, runCli, startServe } from "../helpers/cli.js";
import { freePort } from "../helpers/freePort.js";
import type { NodeInfo } from "../../appliance/nodeInfo.js";
import { slotFromCmdline } from "../../appliance/nodeInfo.js";

describe("sovereign node", () => {
  let dir: string;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "sovereign-node-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("says what it knows before the first start, then the running node's id, URL and health", async () => {
    const port = await freePort();
    const args = ["node", "--json", "--data-dir", join(dir, "data"), "--port", String(port)];
    const before = runCli(args);
    expect(before.status, before.stderr).toBe(0);
    const b = JSON.parse(before.stdout) as NodeInfo;
    expect(b).toMatchObject({ nodeId: null, claimed: false, users: 0, certificateFingerprint: null, health: { reachable: false } });

    // startServe passes --port 0 first; the later --port wins.
    const serve = await startServe(["--data-dir", join(dir, "data"), "--port", String(port)]);
    try {
      const after = runCli(args);
      expect(after.status, after.stderr).toBe(0);
      const a = JSON.parse(after.stdout) as NodeInfo;
      expect(a.nodeId).toMatch(/^[a-z2-7]{26}$/);
      expect(a.fingerprint).toMatch(/^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/);
      expect(a.health).toMatchObject({ reachable: true, status: 200 });
      expect(a.urls).toContain(`http://localhost:${port}/`);
      expect(a.version).toMatch(/^\d+\.\d+\.\d+/);
      const text = runCli(args.filter((x) => x !== "--json"));
      expect(text.stdout).toContain(a.nodeId!);
      expect(text.stdout).toMatch(/claimed\s+no: open the panel/);
    } finally {
      await serve.stop();
    }
  });

  it("reads the booted slot from the kernel command line", () => {
    expect(slotFromCmdline("BOOT_IMAGE=/vmlinuz root=/dev/mapper/root sovereign.slot=b quiet")).toBe("B");
    expect(slotFromCmdline("root=/dev/sda2")).toBeNull();
  });
});
