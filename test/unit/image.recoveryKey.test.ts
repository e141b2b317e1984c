import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeRecoveryKey, normalizeRecoveryKey, RECOVERY_ALPHABET, RECOVERY_KEY_PATTERN } from "../../image/lib/recoveryKey.js";

const keyscript = readFileSync(join(import.meta.dirname, "../../image/overlay/sovereign-usbkey-keyscript"), "utf8");

/** The keyscript's own normalisation, run by sh: from `N=$(` to the closing `esac`, with askpass's answer in KEY. */
function shellNormalize(typed: string): string {
  const start = keyscript.indexOf("N=$(");
  const end = keyscript.indexOf("esac", start) + "esac".length;
  return execFileSync("sh", ["-c", keyscript.slice(start, end)], { env: { ...process.env, KEY: typed }, encoding: "utf8" });
}

describe("recovery key", () => {
  it("is 8 groups of 5 Crockford base32 characters (200 bits), different each time", () => {
    const a = makeRecoveryKey();
    expect(a).toMatch(RECOVERY_KEY_PATTERN);
    expect(a).toHaveLength(47);
    expect(makeRecoveryKey()).not.toBe(a);
    expect(RECOVERY_ALPHABET).toHaveLength(32);
    expect(RECOVERY_ALPHABET).not.toMatch(/[ILOU]/);
  });

  it("uses every bit of its random bytes: all zeros and all ones give the alphabet's ends", () => {
    expect(makeRecoveryKey((n) => Buffer.alloc(n, 0))).toBe(Array(8).fill("00000").join("-"));
    expect(makeRecoveryKey((n) => Buffer.alloc(n, 0xff))).toBe(Array(8).fill("ZZZZZ").join("-"));
    expect(makeRecoveryKey((n) => Buffer.alloc(n, 0xff)).replace(/-/g, "")).toHaveLength(40);
  });

  it.each([
    ["exact", "ABCDE-FGHJK-MNPQR-STVWX-YZ012-34567-89ABC-DEFGH", "ABCDE-FGHJK-MNPQR-STVWX-YZ012-34567-89ABC-DEFGH"],
    ["lower case, spaces, no dashes", "abcde fghjk mnpqr stvwx yz012 34567 89abc defgh", "ABCDE-FGHJK-MNPQR-STVWX-YZ012-34567-89ABC-DEFGH"],
    ["O read as 0, I and L as 1", "ABCDE-FGHJK-MNPQR-STVWX-YZO1I-34567-89ABC-DEFGL", "ABCDE-FGHJK-MNPQR-STVWX-YZ011-34567-89ABC-DEFG1"],
    ["an owner's passphrase is passed on as typed", "correct horse battery staple", "correct horse battery staple"],
    ["a U is no recovery key", "ABCDE-FGHJK-MNPQR-STVWX-YZ012-34567-89ABC-DEFGU", "ABCDE-FGHJK-MNPQR-STVWX-YZ012-34567-89ABC-DEFGU"],
    ["too short", "ABCDE-FGHJK", "ABCDE-FGHJK"],
  ])("typed at the console (%s): the keyscript's shell and recoveryKey.ts agree", (_what, typed, expected) => {
    expect(normalizeRecoveryKey(typed)).toBe(expected);
    expect(shellNormalize(typed)).toBe(expected);
  });
});
