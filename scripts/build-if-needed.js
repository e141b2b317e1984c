#!/usr/bin/env node
// `npm start` builds first when dist/ is missing or older than the sources.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const roots = ["core", "appliance", "hardware", "services", "image"];
const stamp = "dist/appliance/cli/main.js";

function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : p.endsWith(".ts") ? statSync(p).mtimeMs : 0);
  }
  return t;
}

const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (built === 0 || roots.some((r) => newest(r) > built)) {
  process.stdout.write("building the runtime (tsc)...\n");
  const r = spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
