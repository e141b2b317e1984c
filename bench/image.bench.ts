// `npm run bench image` (as root): the x86_64 image build step by step, cold (empty cache) and warm,
// image sizes raw and compressed, and boot time to the first /healthz 200 in qemu (KVM when it works,
// TCG always), including first boot's online re-encryption. SOVEREIGN_BENCH_IMAGE_COLD=0 skips the cold build.
import { mkdtempSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { writeResult } from "./lib/writeResult.js";
import { buildImage, imageCache, repoRoot } from "../test/e2e/imageBuild.js";
import { bootVm, healthz, pickAccel, readText, waitFor } from "../test/e2e/imageQemu.js";

const MiB = 1024 * 1024;
const env = { SOVEREIGN_IMAGE_TEST_PBKDF_KIB: "65536", SOVEREIGN_IMAGE_STATUS_TTY: "ttyS1" };
const args = ["--board", "x86_64", "--unlock", "usb-key", "--compress", "zstd"];
const results: Record<string, unknown> = {};

function buildWithCache(cache: string, out: string): ReturnType<typeof buildImage> {
  // buildImage uses the shared cache; a cold run points --cache at an empty directory instead.
  const r = spawnSync(process.execPath, ["--import", "tsx", join(repoRoot, "appliance/cli/main.ts"), "image", "build", "--out", out, "--cache", cache, "--json", ...args], {
    cwd: repoRoot, env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr.slice(-3000)}`);
  return JSON.parse(r.stdout) as ReturnType<typeof buildImage>;
}

const stepTable = (t: { step: string; seconds: number; skipped: boolean }[]): Record<string, number> => Object.fromEntries(t.map((s) => [s.step, s.seconds]));
const total = (t: { seconds: number }[]): number => Math.round(t.reduce((n, s) => n + s.seconds, 0) * 10) / 10;

if (process.env.SOVEREIGN_BENCH_IMAGE_COLD !== "0") {
  const cold = mkdtempSync(join(tmpdir(), "sov-bench-cold-"));
  const coldOut = join(cold, "out");
  const b = buildWithCache(join(cold, "cache"), coldOut);
  results.cold = { totalSeconds: total(b.timings), steps: stepTable(b.timings) };
  rmSync(cold, { recursive: true, force: true });
}
const out = join(repoRoot, "test-artifacts/bench-image");
rmSync(out, { recursive: true, force: true });
const warm = buildImage(out, args, env);
void imageCache;
results.warm = { totalSeconds: total(warm.timings), steps: stepTable(warm.timings) };
results.sizes = { rawBytes: warm.sizes.diskBytes, compressedBytes: warm.sizes.imageBytes, rootFsBytes: warm.sizes.rootfsBytes };

const disk = join(out, "disk.img");
spawnSync("zstd", ["-d", "-q", "-f", warm.image, "-o", disk]);
const pristine = join(out, "pristine.img");
spawnSync("cp", ["--sparse=always", disk, pristine]);
const accels = [...new Set([pickAccel(out), "tcg" as const])];
for (const accel of accels) {
  spawnSync("cp", ["--sparse=always", pristine, disk]);
  spawnSync("cp", [warm.usbKeyImage ?? "", join(out, "usbkey.img")]);
  truncateSync(disk, statSync(disk).size + 512 * MiB);
  const vm = await bootVm({ dir: out, disk, usbKey: join(out, "usbkey.img"), accel, tag: `bench-${accel}` });
  try {
    await waitFor("/healthz", 30 * 60_000, async () => ((await healthz(vm.port)) ? true : undefined), vm);
    const first = (Date.now() - vm.startedAt) / 1000;
    const line = await waitFor("status", 5 * 60_000, () => readText(vm.serial1).split(/\r?\n/).find((l) => l.startsWith("SOVSTATUS")), vm);
    const fb = JSON.parse(/firstboot=(\{.*\})/.exec(line)?.[1] ?? "{}") as { reencryptSeconds?: number; rootBytesBefore?: number };
    results[`boot_${accel}`] = {
      firstBootToHealthzSeconds: Math.round(first),
      reencryptSeconds: fb.reencryptSeconds,
      reencryptedBytes: fb.rootBytesBefore,
      reencryptSecondsPerGiB: fb.reencryptSeconds && fb.rootBytesBefore ? Math.round((fb.reencryptSeconds / (fb.rootBytesBefore / 1024 ** 3)) * 10) / 10 : undefined,
    };
  } finally {
    await vm.powerdown(120_000);
  }
  const vm2 = await bootVm({ dir: out, disk, usbKey: join(out, "usbkey.img"), accel, tag: `bench-${accel}-2` });
  try {
    await waitFor("/healthz after reboot", 20 * 60_000, async () => ((await healthz(vm2.port)) ? true : undefined), vm2);
    (results[`boot_${accel}`] as Record<string, unknown>).rebootToHealthzSeconds = Math.round((Date.now() - vm2.startedAt) / 1000);
  } finally {
    await vm2.powerdown(120_000);
  }
}
console.log(JSON.stringify(results, null, 2));
writeResult("image", results);
