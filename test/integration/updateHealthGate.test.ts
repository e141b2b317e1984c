import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { packageVersion } from "../../core/packageVersion.js";
import { emptyState, readState, writeState } from "../../services/update/UpdateState.js";
import { waitFor } from "../helpers/notifySocket.js";
import { buildTestApp } from "../helpers/testApp.js";

const OLD = "0.0.1";
let root: string;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A node booted on slot b, which is on trial with this version; slot a holds the old one, committed. */
function trialOnB(): { dataDir: string; esp: string; settings: Record<string, unknown> } {
  const dataDir = join(root, "data");
  const esp = join(root, "esp");
  mkdirSync(join(esp, "loader/entries"), { recursive: true });
  writeFileSync(join(esp, "loader/loader.conf"), "default sovereign-*\ntimeout 0\n");
  writeFileSync(join(esp, "loader/entries/sovereign-a.conf"), "title a\nsort-key sovereign\nversion 1\noptions root=PARTLABEL=sovereign-root-a sovereign.slot=a\n");
  // systemd-boot counted this boot of the +3 entry.
  writeFileSync(join(esp, "loader/entries/sovereign-b+2-1.conf"), "title b\nsort-key sovereign\nversion 2\noptions root=PARTLABEL=sovereign-root-b sovereign.slot=b\n");
  writeFileSync(join(root, "cmdline"), "ro sovereign.slot=b\n");
  const state = emptyState();
  state.slots.a = { version: OLD, condition: "good", since: new Date().toISOString() };
  state.pending = { slot: "b", version: packageVersion(), writtenAt: new Date().toISOString(), restartRequestedAt: new Date().toISOString(), restartBootId: "an-earlier-boot" };
  writeState(join(dataDir, "update", "state.json"), state);
  return {
    dataDir, esp,
    settings: {
      "node.board": "x86_64", "update.slotA": join(root, "slot-a"), "update.slotB": join(root, "slot-b"), "update.bootedSlotSource": join(root, "cmdline"),
      "update.bootDir": esp, "update.bootMethod": "systemd-boot",
      "update.healthGateSeconds": 2, "update.healthGateIntervalSeconds": 1, "update.healthGateTimeoutSeconds": 6,
      "update.rebootCommand": ["sh", "-c", `echo rebooted >> ${join(root, "rebooted")}`],
    },
  };
}

describe("the trial boot's health gate", () => {
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "sovereign-gate-"));
    dirs.push(root);
  });

  it("marks a healthy trial good: the entry loses its counter, the state commits, the audit log says who", async () => {
    const { dataDir, esp, settings } = trialOnB();
    const t = await buildTestApp(settings, { dataDir });
    try {
      expect(t.app.update.status().trial).toMatchObject({ slot: "b", version: packageVersion() });
      await waitFor("the commit", () => readState(join(dataDir, "update", "state.json")).trial === null, 60_000);
      expect(readdirSync(join(esp, "loader/entries")).sort()).toEqual(["sovereign-a.conf", "sovereign-b.conf"]);
      const s = t.app.update.status();
      expect(s.slots.find((x) => x.slot === "b")).toMatchObject({ condition: "good", version: packageVersion() });
      expect(s.lastResult).toMatchObject({ outcome: "committed" });
      expect(t.app.audit.list({ type: "update.committed" })).toEqual([expect.objectContaining({ actor: "health-gate", subject: packageVersion() })]);
      expect(existsSync(join(root, "rebooted"))).toBe(false);
    } finally {
      await t.close();
    }
  });

  it("gives a sick trial up: the entry's tries are spent, the node reboots, and the old slot reports the rollback with the gate's reason", async () => {
    const { dataDir, esp, settings } = trialOnB();
    const t = await buildTestApp(settings, {
      dataDir,
      // A check that never passes, as a node whose database or engine is broken would answer.
      beforeReady: (app) => app.health.register({ name: "sick", liveness: false, check: () => ({ ok: false, detail: "database is full" }) }),
    });
    try {
      await waitFor("the reboot", () => existsSync(join(root, "rebooted")), 60_000);
      expect(readdirSync(join(esp, "loader/entries")).sort()).toEqual(["sovereign-a.conf", "sovereign-b+0-3.conf"]);
      expect(readState(join(dataDir, "update", "state.json")).trial?.unhealthy?.why).toContain("sick: database is full");
      expect(t.app.audit.list({ type: "update.trial_unhealthy" })).toHaveLength(1);
      expect(t.app.audit.list({ type: "update.committed" })).toHaveLength(0);
    } finally {
      await t.close();
    }
    expect(readFileSync(join(root, "rebooted"), "utf8")).toBe("rebooted\n");
    // systemd-boot now starts slot a: the old version comes up and reconciles.
    writeFileSync(join(root, "cmdline"), "ro sovereign.slot=a\n");
    const old = await buildTestApp(settings, { dataDir });
    try {
      const s = old.app.update.status();
      expect(s.trial).toBeNull();
      expect(s.slots.find((x) => x.slot === "b")?.condition).toBe("bad");
      expect(s.rollback).toMatchObject({ failedSlot: "b", failedVersion: packageVersion() });
      expect(s.rollback?.reason).toContain("the health gate gave it up: not healthy for 2 s in a row within 6 s (last failure: sick: database is full)");
      expect(old.app.audit.list({ type: "update.rolled_back" })).toHaveLength(1);
    } finally {
      await old.close();
    }
  });
});
