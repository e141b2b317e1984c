import { execFileSync } from "node:child_process";

/** True under CI, where a missing tool is a failure rather than a skip. */
export const inCI = process.env.CI === "true" || process.env.CI === "1";

export function hasCommand(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a suite that needs these system tools should run. Outside CI a
 * missing tool skips the suite (with a note); in CI it throws, so the run
 * fails instead of passing silently. Use as `describe.runIf(requireTools(...))`.
 */
export function requireTools(...names: string[]): boolean {
  const missing = names.filter((n) => !hasCommand(n));
  if (missing.length === 0) return true;
  const msg = `missing system tool(s): ${missing.join(", ")} (install them, see .ci/apt-packages.txt)`;
  if (inCI) throw new Error(`${msg}; in CI a missing tool fails the run`);
  process.stderr.write(`skipping: ${msg}\n`);
  return false;
}

/** Same rule for a file the suite needs (a model in ../shared/models, a firmware file). */
export function requireFile(path: string, what: string, exists: (p: string) => boolean): boolean {
  if (exists(path)) return true;
  const msg = `missing ${what} at ${path}`;
  if (inCI) throw new Error(`${msg}; in CI a missing prerequisite fails the run`);
  process.stderr.write(`skipping: ${msg}\n`);
  return false;
}
