import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

/** r=8, p=1 with N=2^logN: memory per hash is 128·N·r bytes (logN 16 → 64 MiB). */
const R = 8;
const P = 1;
const KEY_LEN = 32;

function scryptAsync(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r * p + 4 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFKC"), salt, KEY_LEN, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * Hashes a password with scrypt and a fresh 16-byte salt. The result names its
 * own parameters (`scrypt$logN$r$p$salt$hash`), so raising the cost later keeps old hashes valid.
 */
export async function hashPassword(password: string, logN: number): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, logN, R, P);
  return ["scrypt", logN, R, P, salt.toString("base64"), key.toString("base64")].join("$");
}

/** Timing-safe check of a password against a stored hash; false for any malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [logN, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![logN, r, p].every((n) => Number.isInteger(n) && n > 0) || logN > 22) return false;
  const salt = Buffer.from(parts[4] ?? "", "base64");
  const expected = Buffer.from(parts[5] ?? "", "base64");
  if (expected.length !== KEY_LEN) return false;
  const actual = await scryptAsync(password, salt, logN, r, p);
  return timingSafeEqual(actual, expected);
}

/** The cost a hash was made with, to rehash old ones at the next login. */
export function hashCost(stored: string): number | undefined {
  const n = Number(stored.split("$")[1]);
  return Number.isInteger(n) ? n : undefined;
}

export const passwordRules = { minLength: 10, maxLength: 256 } as const;

export function passwordAcceptable(password: string): boolean {
  const n = [...password].length;
  return n >= passwordRules.minLength && n <= passwordRules.maxLength;
}
