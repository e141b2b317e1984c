import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The runtime's version from package.json, found above this file both in the source tree and in dist/. */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const p = join(dir, "package.json");
    if (existsSync(p)) return (JSON.parse(readFileSync(p, "utf8")) as { version?: string }).version ?? "unknown";
    dir = dirname(dir);
  }
  return "unknown";
}
