// Ad-hoc, not a bench (`npx tsx bench/experiments/wdduty.ts`, then `WDSEC=300 npx tsx bench/experiments/wdduty.ts`): a
// starved TCG guest (qemu stopped 8 s of every 10, from power-on): does the watchdog (30 s, or WDSEC through SMBIOS)
// reset a healthy boot before it serves? Needs the A/B suite's disk and key stick in test-artifacts/image-ab
// (`SOVEREIGN_IMAGE_E2E_REUSE=1 CI=true npx vitest run test/e2e/image.ab.test.ts` leaves them).
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { bootVm, healthz, readText } from "../../test/e2e/imageQemu.js";
const src = "test-artifacts/image-ab";
const out = "/tmp/wdstop";
mkdirSync(out, { recursive: true });
const sec = process.env.WDSEC ? Number(process.env.WDSEC) : undefined;
const on = Number(process.env.ON ?? 2000), off = Number(process.env.OFF ?? 8000);
const tag = `duty-${sec ?? 30}`;
execFileSync("cp", ["--sparse=always", `${src}/disk.img`, `${out}/disk.img`]);
execFileSync("cp", [`${src}/usbkey.img`, `${out}/usbkey.img`]);
const vm = await bootVm({ dir: out, disk: `${out}/disk.img`, usbKey: `${out}/usbkey.img`, accel: "tcg", tag, watchdog: true, watchdogSec: sec });
const t0 = Date.now();
let result = "timeout";
for (let i = 1; Date.now() - t0 < 25 * 60_000; i++) {
  vm.proc.kill("SIGCONT");
  await new Promise((r) => setTimeout(r, on));
  if (i % 6 !== 0) { vm.proc.kill("SIGSTOP"); await new Promise((r) => setTimeout(r, off)); continue; }
  const state = await vm.runState();
  if (state === "paused (watchdog)") { result = "watchdog fired"; break; }
  if (await healthz(vm.port)) { result = "served"; break; }
  vm.proc.kill("SIGSTOP");
  await new Promise((r) => setTimeout(r, off));
}
vm.proc.kill("SIGCONT");
console.log(`${tag} (${on}/${off} ms): ${result} after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
// eslint-disable-next-line no-control-regex
console.log(readText(vm.serial0).slice(-600).replace(/\x1b\[[0-9;?=!]*[a-zA-Z]/g, ""));
await vm.monitor("quit").catch(() => "");
await vm.powerdown(10_000);
