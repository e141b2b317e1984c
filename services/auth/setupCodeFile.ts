import { chmodSync, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writePrivateFile } from "../../core/fs/writePrivateFile.js";
import { generateSetupCode, setupCodeAcceptable } from "./secrets.js";

/** The setup code's file: the `auth.setupCodeFile` setting, else <dataDir>/setup-code. */
export function setupCodePath(config: { "paths.dataDir": string; "auth.setupCodeFile": string | null }): string {
  return config["auth.setupCodeFile"] ?? join(config["paths.dataDir"], "setup-code");
}

/** Reads the current code, or undefined when there is no file (or an empty one). */
export function readSetupCode(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const code = readFileSync(path, "utf8").trim();
  return code === "" ? undefined : code;
}

/**
 * The code to announce while the node is unclaimed: a pre-seeded one (from
 * first boot or an image) if it is strong enough, else a new one. The file is
 * always left mode 0600. `replaced` says a weak pre-seeded code was discarded.
 */
export function ensureSetupCode(path: string, options: { regenerate?: boolean } = {}): { code: string; created: boolean; replaced: boolean } {
  const existing = options.regenerate ? undefined : readSetupCode(path);
  if (existing !== undefined && setupCodeAcceptable(existing)) {
    chmodSync(path, 0o600);
    return { code: existing, created: false, replaced: false };
  }
  const code = generateSetupCode();
  writePrivateFile(path, `${code}\n`);
  return { code, created: true, replaced: existing !== undefined };
}

/** Removes the code once the node is claimed: it can never be used again. */
export function removeSetupCode(path: string): void {
  rmSync(path, { force: true });
}
