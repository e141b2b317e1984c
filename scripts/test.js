#!/usr/bin/env node
// `npm test`: lint, type check, build, then every test layer but the suites in ON_REQUEST. Each step prints its time.
// `npm run test:fast` (--fast): the same without the image build-and-boot suites (test/e2e/image.*).
// Other arguments go to vitest (e.g. a file or -t "name").
//
// The whole run's tests go in two vitest processes side by side, since one process left a core idle for most of
// the arm64 build (dpkg and mkinitramfs under qemu-user). Both lanes are CPU-bound on 2 cores, so the split is by
// measured time. On 2026-12-07 (AMD EPYC, caches empty) the main lane's A/B suite took about 45 min and the side
// lane's arm64 suite 43 (its build 34), with the rpi4 build after it; the ssh suite moved to the side lane and the
// rpi4 suite out of the run, which would otherwise have ended near CI's 90 minutes.
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";

const fast = process.argv.includes("--fast");
const vitestArgs = process.argv.slice(2).filter((a) => a !== "--fast");
if (fast) vitestArgs.push("--exclude", "test/e2e/image.*");

/** The suites of the second lane. Image builds lock per architecture, so the x86 ones of both lanes take turns. */
const SIDE_LANE = ["test/e2e/image.arm64.test.ts", "test/e2e/image.tpm2.test.ts", "test/e2e/image.ssh.test.ts"];
/**
 * Suites npm test leaves out, each run on its own by `npm run test:image:rpi4`. The rpi4 image is built through
 * qemu-user and checked, never booted; it took 13.7 min of a lane beside the other image suites (2026-12-07), which
 * CI's 90 minutes cannot hold on a 2-core host where stop 29 already ran out. Its layout is checked without a build
 * by test/unit/image.trybootLayout.test.ts, and its Armv8-A llama.cpp build and cross-built addons by the arm64 suite.
 */
const ON_REQUEST = ["test/e2e/image.rpi4.test.ts"];
/** The main lane is everything else. */
const MAIN_EXCLUDES = [...SIDE_LANE, ...ON_REQUEST];
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
  process.stdout.write(`\n== tests: two vitest runs side by side\n   main:  npx vitest run --exclude ${MAIN_EXCLUDES.join(" --exclude ")}\n   side:  npx vitest run ${SIDE_LANE.join(" ")} (lines prefixed [side])\n   not run here: ${ON_REQUEST.join(" ")} (npm run test:image:rpi4)\n`);
  const timed = (p, name) => p.then((code) => {
    process.stdout.write(`== tests (${name}): ${code === 0 ? "ok" : "FAILED"} in ${seconds(t0)} s\n`);
    return code;
  });
  const codes = await Promise.all([
    timed(vitest(MAIN_EXCLUDES.flatMap((f) => ["--exclude", f])), "main"),
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
