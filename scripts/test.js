#!/usr/bin/env node
// `npm test`: lint, type check, build, then every test layer. Each step prints its time.
import { spawnSync } from "node:child_process";

const steps = [
  ["lint", ["npx", "eslint", "."]],
  ["typecheck", ["npx", "tsc", "-p", "tsconfig.json", "--noEmit"]],
  ["build", ["npx", "tsc", "-p", "tsconfig.build.json"]],
  ["tests", ["npx", "vitest", "run", ...process.argv.slice(2)]],
];

for (const [name, [cmd, ...args]] of steps) {
  const t0 = Date.now();
  process.stdout.write(`\n== ${name}: ${[cmd, ...args].join(" ")}\n`);
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  process.stdout.write(`== ${name}: ${r.status === 0 ? "ok" : "FAILED"} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  if (r.status !== 0) process.exit(r.status ?? 1);
}
