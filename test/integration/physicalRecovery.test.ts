import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { ADMIN, as, claim, setupCodeOf, type Session } from "./authHelpers.js";
import { buildTestApp } from "../helpers/testApp.js";
import { parseRecoveryRequest, RECOVERY_FILE } from "../../services/auth/physicalRecovery.js";

/** A logger whose lines the test can read, as the console would show them. */
function consoleLog() {
  const lines: string[] = [];
  const stream = new Writable({ write: (chunk: Buffer, _enc, cb) => { lines.push(...chunk.toString().split("\n").filter(Boolean)); cb(); } });
  return { logger: pino({ level: "info" }, stream), text: () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg).join("\n") };
}

describe("recovery by physical presence (a file on the boot partition)", () => {
  let root: string;
  let dataDir: string;
  let boot: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "sovereign-recovery-"));
    dataDir = join(root, "data");
    boot = join(root, "boot");
    mkdirSync(boot);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let ownerSession: Session | undefined;

  async function buildAuthTestAppAt(log: ReturnType<typeof consoleLog>) {
    const t = await buildTestApp({ "auth.scryptLogN": 14, "auth.recoveryDirs": [boot], "log.level": "info" }, { dataDir, logger: log.logger });
    return { t, log };
  }

  it("regenerates the setup code of an unclaimed node, once per file, and audits it", async () => {
    const first = await buildAuthTestAppAt(consoleLog());
    const oldCode = setupCodeOf(dataDir);
    await first.t.app.close();

    writeFileSync(join(boot, RECOVERY_FILE), "# written on my laptop\nregenerate-setup-code\n");
    const { t, log } = await buildAuthTestAppAt(consoleLog());
    try {
      const newCode = setupCodeOf(dataDir);
      expect(newCode).not.toBe(oldCode);
      expect(log.text()).toContain(`new setup code: ${newCode}`);
      expect(existsSync(join(boot, RECOVERY_FILE))).toBe(false);
      expect(existsSync(join(boot, `${RECOVERY_FILE}.done`))).toBe(true);
      const refused = await t.app.inject({ method: "POST", url: "/api/setup/claim", payload: { code: oldCode, ...ADMIN } });
      expect(refused.json().error.code).toBe("SETUP_CODE_INVALID");
      ownerSession = await claim(t.app, dataDir);
      expect((await t.app.inject({ url: "/api/auth/me", headers: as(ownerSession) })).statusCode).toBe(200);
      const events = t.app.audit.list().filter((e) => e.type === "auth.physical_recovery");
      expect(events).toHaveLength(1);
      expect(events[0]?.details).toMatchObject({ action: "regenerate-setup-code", ok: true });
    } finally {
      await t.app.close();
    }
  });

  it("resets the first admin's password on a claimed node and ends their sessions", async () => {
    writeFileSync(join(boot, RECOVERY_FILE), "reset-admin-password\n");
    const { t, log } = await buildAuthTestAppAt(consoleLog());
    try {
      const m = /password of admin "admin" is now: (\S+)/.exec(log.text());
      expect(m?.[1]).toBeTruthy();
      const oldPw = await t.app.inject({ method: "POST", url: "/api/auth/login", payload: ADMIN });
      expect(oldPw.statusCode).toBe(401);
      const newPw = await t.app.inject({ method: "POST", url: "/api/auth/login", payload: { username: "admin", password: m![1] } });
      expect(newPw.statusCode).toBe(200);
      expect((await t.app.inject({ url: "/api/auth/me", headers: as(ownerSession!) })).statusCode).toBe(401);
    } finally {
      await t.app.close();
    }
  });

  it("parses only the two actions, and says why it ignores anything else", () => {
    expect(parseRecoveryRequest("regenerate-setup-code")).toEqual({ action: "regenerate-setup-code" });
    expect(parseRecoveryRequest("reset-admin-password alice\n")).toEqual({ action: "reset-admin-password", username: "alice" });
    expect(parseRecoveryRequest("reset-admin-password")).toEqual({ action: "reset-admin-password", username: null });
    expect(parseRecoveryRequest("rm -rf /")).toHaveProperty("error");
    expect(parseRecoveryRequest("regenerate-setup-code\nreset-admin-password")).toHaveProperty("error");
    expect(parseRecoveryRequest("reset-admin-password ../../etc")).toHaveProperty("error");
  });
});
