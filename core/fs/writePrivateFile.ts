import { chmodSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Writes a file only its owner may read (0600), atomically: a temp file beside
 * it, then a rename, so a crash leaves the old content or the new, never half.
 * The parent is made 0700 if missing. chmod as well as the create mode: a temp
 * file left by a crash keeps whatever mode it had.
 */
export function writePrivateFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** writePrivateFile of a value as indented JSON. */
export function writePrivateJson(path: string, value: unknown): void {
  writePrivateFile(path, `${JSON.stringify(value, null, 2)}\n`);
}
