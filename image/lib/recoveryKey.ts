import { randomBytes } from "node:crypto";

/**
 * The recovery key: made at build, added to its own LUKS keyslot, written
 * once beside the image and never again. It opens the disk whatever the
 * unlock method (a lost key stick, a replaced TPM, a forgotten passphrase).
 * Crockford's base32 (no I, L, O, U), so it reads aloud and types without
 * ambiguity: 8 groups of 5, 40 characters, 200 bits.
 */
export const RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const GROUPS = 8;
const GROUP = 5;

/** The shape of a recovery key as stored in the keyslot: `XXXXX-XXXXX-…` (8 groups). */
export const RECOVERY_KEY_PATTERN = /^[0-9A-HJKMNP-TV-Z]{5}(?:-[0-9A-HJKMNP-TV-Z]{5}){7}$/;

/** A new recovery key (uniform: each character takes 5 fresh bits). */
export function makeRecoveryKey(random: (n: number) => Buffer = randomBytes): string {
  const bytes = random((GROUPS * GROUP * 5) / 8);
  let bits = 0;
  let acc = 0;
  let out = "";
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += RECOVERY_ALPHABET[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out.match(new RegExp(`.{${GROUP}}`, "g"))!.join("-");
}

/**
 * What the usb-key keyscript does with a typed answer (the shell in
 * image/overlay/sovereign-usbkey-keyscript is the one that runs; this is its
 * rule in TypeScript, for tests and docs): case, spaces and dashes do not
 * matter, O reads as 0 and I or L as 1. Anything that is not 40 characters
 * of the alphabet then is passed on unchanged (a passphrase of the owner's own).
 */
export function normalizeRecoveryKey(typed: string): string {
  const n = typed.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
  if (n.length !== GROUPS * GROUP || [...n].some((c) => !RECOVERY_ALPHABET.includes(c))) return typed;
  return n.match(new RegExp(`.{${GROUP}}`, "g"))!.join("-");
}
