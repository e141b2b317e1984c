import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";

/** A random URL-safe secret of `bytes` bytes (session ids, CSRF tokens, API keys). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/** Secrets with 256 bits of entropy need no slow hash: stored and looked up by SHA-256. */
export function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/** Constant-time string comparison (compares digests, so lengths do not leak). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/** Crockford's base32 alphabet: no I, L, O or U, so a code read off a screen is hard to mistype. */
const CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A setup code of 16 characters (80 bits) shown as XXXX-XXXX-XXXX-XXXX. */
export function generateSetupCode(): string {
  let s = "";
  for (let i = 0; i < 16; i++) s += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return s.match(/.{4}/g)!.join("-");
}

/** Upper-cases and drops separators; maps the look-alikes Crockford allows (O→0, I/L→1). */
export function normalizeSetupCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
}

/** A pre-seeded code must be as strong as a generated one: at least 16 alphabet characters. */
export function setupCodeAcceptable(code: string): boolean {
  const n = normalizeSetupCode(code);
  return n.length >= 16 && n.length <= 64 && [...n].every((c) => CODE_ALPHABET.includes(c));
}

export const API_KEY_PREFIX = "sk-sov-";

export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomToken(32)}`;
}
