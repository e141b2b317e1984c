#!/usr/bin/env node
// `npm test`: lint, type check, build, then every test layer. Each step prints its time.
// `npm run test:fast` (--fast): the same without the image build-and-boot suites (test/e2e/image.*).
// Other arguments go to vitest (e.g. a file or -t "name").
//
// The whole run's tests go in two vitest processes side by side: the arm64 image suites (whose builds run
// dpkg and mkinitramfs under qemu-user, on one core for about 30 minutes) plus the tpm2 one, and everything
// else. One process ran them one after another (vitest 86.5 min here), and on 2 cores that left a core idle
// for most of the arm64 builds. The split is by measured time: side by side (2026-12-05) the main lane took
// 54.2 min, the A/B suite 21.9 of them, and the arm64 suites 41.5, so the tpm2 suite (8.6) moved across.
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";

const fast = process.argv.includes("--fast");
const vitestArgs = process.argv.slice(2).filter((a) => a !== "--fast");
if (fast) vitestArgs.push("--exclude", "test/e2e/image.*");

/** The suites of the second lane. Image builds lock per architecture, so the x86 ones of both lanes take turns. */
const SIDE_LANE = ["test/e2e/image.arm64.test.ts", "test/e2e/image.rpi4.test.ts", "test/e2e/image.tpm2.test.ts"];
const lanes = !fast && vitestArgs.length === 0;

const steps = [
  ["lint", ["npx", "eslint", "."]],
  ["typecheck", ["npx", "tsc", "-p", "tsconfig.json", "--noEmit"]],
  ["build", ["npx", "tsc", "-p", "tsconfig.build.json"]],
];

const seconds = (t0) => ((Date.now() - t0) / 1000).toFixed(1);
const started = Date.now();
for (const [name, [cmd, ...args]] of steps) {
  const t0 = Date.now();
  process.stdout.write(`\n== ${name}: ${[cmd, ...args].join(" ")}\n`);
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  process.stdout.write(`== ${name}: ${r.status === 0 ? "ok" : "FAILED"} in ${seconds(t0)} s\n`);
  if (r.status !== 0) process.exit(r.status ?? 1);
}

/** Runs vitest; with a prefix, its output goes line by line with that prefix, so two lanes stay readable. */
function vitest(args, prefix) {
  return new Promise((resolve) => {
    const child = spawn("npx", ["vitest", "run", ...args], { stdio: prefix ? ["ignore", "pipe", "pipe"] : "inherit" });
    if (prefix) {
      for (const [from, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]])
        createInterface({ input: from, crlfDelay: Infinity }).on("line", (l) => to.write(`${prefix}${l}\n`));
    }
    child.on("close", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const t0 = Date.now();
let failed = false;
if (lanes) {
  process.stdout.write(`\n== tests: two vitest runs side by side\n   main:  npx vitest run --exclude ${SIDE_LANE.join(" --exclude ")}\n   side:  npx vitest run ${SIDE_LANE.join(" ")} (lines prefixed [side])\n`);
  const timed = (p, name) => p.then((code) => {
    process.stdout.write(`== tests (${name}): ${code === 0 ? "ok" : "FAILED"} in ${seconds(t0)} s\n`);
    return code;
  });
  const codes = await Promise.all([
    timed(vitest(SIDE_LANE.flatMap((f) => ["--exclude", f])), "main"),
    timed(vitest(SIDE_LANE, "[side] "), "side"),
  ]);
  failed = codes.some((c) => c !== 0);
} else {
  process.stdout.write(`\n== tests: npx vitest run ${vitestArgs.join(" ")}\n`);
  failed = (await vitest(vitestArgs)) !== 0;
}
process.stdout.write(`== tests: ${failed ? "FAILED" : "ok"} in ${seconds(t0)} s\n`);
if (failed) process.exit(1);
process.stdout.write(`\n== all ${fast ? "fast " : ""}steps ok in ${((Date.now() - started) / 60_000).toFixed(1)} min\n`);
