#!/usr/bin/env node
// Builds dist/ when it is missing or older than the sources: before `npm start`, and
// from bin/sovereign.js in a checkout, so `npx sovereign …` works right after `npm ci`.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
// What tsconfig.build.json compiles (web-ui/ for its server plugin).
const roots = ["core", "appliance", "hardware", "services", "image", "web-ui"];
const stamp = join(repo, "dist", "appliance", "cli", "main.js");

function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : p.endsWith(".ts") ? statSync(p).mtimeMs : 0);
  }
  return t;
}

/**
 * Runs tsc when needed. Everything it prints goes to stderr, so a command's
 * --json output stays clean. Returns false when the build failed.
 */
export function buildIfNeeded() {
  const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  if (built !== 0 && !roots.some((r) => newest(join(repo, r)) > built)) return true;
  const tsc = join(repo, "node_modules", "typescript", "bin", "tsc");
  if (!existsSync(tsc)) {
    process.stderr.write(`sovereign: the runtime is not built and TypeScript is not installed; run \`npm ci\` in ${repo} first.\n`);
    return false;
  }
  process.stderr.write("building the runtime (tsc)...\n");
  const r = spawnSync(process.execPath, [tsc, "-p", join(repo, "tsconfig.build.json")], { cwd: repo, stdio: ["ignore", 2, 2] });
  return r.status === 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exit(buildIfNeeded() ? 0 : 1);
