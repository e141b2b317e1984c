#!/usr/bin/env node
// `npm test`: lint, type check, build, then every test layer. Each step prints its time.
// `npm run test:fast` (--fast): the same without the image build-and-boot suites (test/e2e/image.*).
// Other arguments go to vitest (e.g. a file or -t "name").
import { spawnSync } from "node:child_process";

const fast = process.argv.includes("--fast");
const vitestArgs = process.argv.slice(2).filter((a) => a !== "--fast");
if (fast) vitestArgs.push("--exclude", "test/e2e/image.*");

const steps = [
  ["lint", ["npx", "eslint", "."]],
  ["typecheck", ["npx", "tsc", "-p", "tsconfig.json", "--noEmit"]],
  ["build", ["npx", "tsc", "-p", "tsconfig.build.json"]],
  ["tests", ["npx", "vitest", "run", ...vitestArgs]],
];

const started = Date.now();
for (const [name, [cmd, ...args]] of steps) {
  const t0 = Date.now();
  process.stdout.write(`\n== ${name}: ${[cmd, ...args].join(" ")}\n`);
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  process.stdout.write(`== ${name}: ${r.status === 0 ? "ok" : "FAILED"} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  if (r.status !== 0) process.exit(r.status ?? 1);
}
process.stdout.write(`\n== all ${fast ? "fast " : ""}steps ok in ${((Date.now() - started) / 60_000).toFixed(1)} min\n`);
