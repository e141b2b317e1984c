// A clock that may be behind (a Pi without RTC before NTP, issue 15): what hardware/clockState.ts reads
// from timesyncd's files, and how the federation's manifest check tolerates it without dropping expiry.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { clockUntrusted, describeClock, readClockState, type ClockPaths } from "../../hardware/clockState.js";
import { signManifest, verifyManifest, type Manifest, type VerifyManifestOptions } from "../../services/federation/Manifest.js";
import { NodeIdentity } from "../../services/identity/NodeIdentity.js";

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), "sovereign-clock-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function paths(root: string): ClockPaths {
  return { synchronized: join(root, "run/timesync/synchronized"), timesyncDir: join(root, "run/timesync"), epoch: join(root, "usr/lib/clock-epoch") };
}

describe("the clock's trust", () => {
  const built = Date.UTC(2026, 11, 1);

  it("unknown without timesyncd, untrusted while timesyncd has not synced, trusted once it has", () => {
    const p = paths(tmp());
    expect(readClockState(built + 1000, p)).toMatchObject({ synced: null, beforeBuild: false, buildTime: null });
    expect(clockUntrusted(readClockState(built + 1000, p))).toBe(false);
    mkdirSync(p.timesyncDir, { recursive: true });
    const waiting = readClockState(built + 1000, p);
    expect(waiting.synced).toBe(false);
    expect(clockUntrusted(waiting)).toBe(true);
    expect(describeClock(waiting)).toContain("has not been synchronized");
    writeFileSync(p.synchronized, "");
    expect(clockUntrusted(readClockState(built + 1000, p))).toBe(false);
  });

  it("a clock earlier than the image's build (clock-epoch's mtime) is untrusted even when synced", () => {
    const p = paths(tmp());
    mkdirSync(join(p.epoch, ".."), { recursive: true });
    writeFileSync(p.epoch, "");
    utimesSync(p.epoch, new Date(built), new Date(built));
    mkdirSync(p.timesyncDir, { recursive: true });
    writeFileSync(p.synchronized, "");
    const s = readClockState(built - 86_400_000, p);
    expect(s).toMatchObject({ synced: true, beforeBuild: true, buildTime: built });
    expect(clockUntrusted(s)).toBe(true);
    expect(describeClock(s)).toContain("earlier than the image's build (2026-12-01T00:00:00.000Z)");
    expect(clockUntrusted(readClockState(built + 1, p))).toBe(false);
  });
});

describe("signed manifests under a clock that may be behind", () => {
  const now = 1_800_000_000_000;
  const opts = (over: Partial<VerifyManifestOptions> = {}): VerifyManifestOptions => ({
    now, skewMs: 1000, highWater: () => undefined, knownKey: () => undefined, allowNewSigners: true, ...over,
  });
  function manifestOf(id: NodeIdentity, issuedAt: number, ttlMs: number): Manifest {
    return {
      v: 1, nodeId: id.nodeId, name: "pi", publicKey: id.publicKeyBase64, encryptionKey: Buffer.alloc(32, 7).toString("base64"),
      capabilities: { hardware: { arch: "arm64", model: "Pi", cpuModel: "A72", cores: 4, memoryBytes: 8e9, gpu: null }, models: [], inference: { available: true, parallel: 1, queueDepth: 0, freeSlots: 1 } },
      endpoints: { http: [], mqtt: [] }, seq: 1, issuedAt, expiresAt: issuedAt + ttlMs, logHead: 0,
    };
  }

  it("one issued 'in the future' is refused with a trusted clock, accepted and flagged with an untrusted one", () => {
    const a = NodeIdentity.loadOrCreate(tmp());
    // The peer's clock is right and ours is a day behind: its manifest looks issued tomorrow.
    const signed = signManifest(manifestOf(a, now + 86_400_000, 3_600_000), a.privateKeyObject());
    expect(verifyManifest(signed, opts())).toMatchObject({ ok: false, reason: "not-yet-valid" });
    expect(verifyManifest(signed, opts({ clockUntrusted: true }))).toMatchObject({ ok: true, clockTolerated: true });
  });

  it("expiry still applies with an untrusted clock (a slow clock never makes a manifest look older), and a fresh one is not flagged", () => {
    const a = NodeIdentity.loadOrCreate(tmp());
    const expired = signManifest(manifestOf(a, now - 7_200_000, 3_600_000), a.privateKeyObject());
    expect(verifyManifest(expired, opts({ clockUntrusted: true }))).toMatchObject({ ok: false, reason: "expired" });
    const fresh = verifyManifest(signManifest(manifestOf(a, now, 3_600_000), a.privateKeyObject()), opts({ clockUntrusted: true }));
    expect(fresh.ok).toBe(true);
    expect(fresh).not.toHaveProperty("clockTolerated");
  });
});
