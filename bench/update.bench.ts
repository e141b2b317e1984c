// Field updates (issue 14): the bundle's size with its parts gzipped and its ratio to the raw part bytes, the
// pack time, and the apply (verify pass, write pass, read-back) with the bytes it writes to the inactive slot;
// the same parts packed and applied raw beside it. `npm run bench update`.
//
// The root part is a real ext4 made with `mkfs.ext4 -d` (as the image build makes its root) from
// SOVEREIGN_UPDATE_BENCH_TREE (default: this repo's node_modules/better-sqlite3, node-llama-cpp and
// onnxruntime-node, native code and JavaScript like the runtime in an image), or SOVEREIGN_UPDATE_BENCH_ROOTFS
// when it names a built root filesystem. Reboot into the update and the fall-back from a failed trial take
// several qemu boots (20-40 min under TCG), so they are measured by the A/B e2e suite
// (test/e2e/image.ab.test.ts) and copied here from its last run, with that run's date and acceleration.
import { execFileSync } from "node:child_process";
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generateSecretKey, publicKeyOf } from "../core/ed25519.js";
import { writeBundle } from "../image/lib/bundle.js";
import { writeBundleToSlot } from "../services/update/slotWriter.js";
import { writeResult } from "./lib/writeResult.js";

const repo = resolve(import.meta.dirname, "..");

/** The boot timings of the A/B e2e suite's last run (test-artifacts/image-ab/measured.json), or why there are none. */
function abTimings(): Record<string, unknown> {
  const file = join(repo, "test-artifacts/image-ab/measured.json");
  if (!existsSync(file)) return { rebootIntoUpdateToHealthy: null, failedTrialToServingOnOldSlot: null, notMeasured: "no run of test/e2e/image.ab.test.ts on this checkout (CI=true npx vitest run test/e2e/image.ab.test.ts)" };
  const m = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  return {
    rebootIntoUpdateToHealthy: m.rebootIntoUpdateToHealthzSeconds ?? null,
    failedTrialToServingOnOldSlot: m.failedTrialToServingSeconds ?? null,
    abRun: { from: "test/e2e/image.ab.test.ts", at: statSync(file).mtime.toISOString(), accel: m.accel, seconds: m },
  };
}
const MiB = 1024 * 1024;
const seconds = (t0: bigint): number => +(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(3);

/** Drops the page cache so the apply reads the bundle from disk, as from a stick; false where the kernel refuses. */
function dropCaches(): boolean {
  try {
    execFileSync("sync");
    writeFileSync("/proc/sys/vm/drop_caches", "3");
    return true;
  } catch {
    return false;
  }
}

const dir = mkdtempSync(join(tmpdir(), "sovereign-update-bench-"));
try {
  let rootfs = process.env.SOVEREIGN_UPDATE_BENCH_ROOTFS;
  let rootSource: string;
  if (rootfs) {
    rootSource = `built root filesystem ${rootfs}`;
  } else {
    const tree = join(dir, "tree");
    const from = process.env.SOVEREIGN_UPDATE_BENCH_TREE?.split(":") ?? ["better-sqlite3", "node-llama-cpp", "onnxruntime-node"].map((p) => join(repo, "node_modules", p));
    for (const p of from) cpSync(p, join(tree, p.split("/").pop() ?? "x"), { recursive: true, dereference: true });
    const treeBytes = Number(execFileSync("du", ["-sb", tree], { encoding: "utf8" }).split("\t")[0]);
    rootfs = join(dir, "rootfs.ext4");
    // Room for the tree plus the filesystem's own metadata, as the build's measure-then-fit does.
    const sizeMiB = Math.ceil((treeBytes * 1.15) / MiB) + 32;
    execFileSync("mkfs.ext4", ["-q", "-F", "-d", tree, "-m", "0", rootfs, `${sizeMiB}M`]);
    rmSync(tree, { recursive: true, force: true });
    rootSource = `ext4 (mkfs.ext4 -d) of ${from.map((p) => p.replace(`${repo}/`, "")).join(", ")}`;
  }
  // Kernel-sized and initrd-sized boot parts, random: a real kernel and initrd are compressed already.
  const kernel = join(dir, "vmlinuz");
  const initrd = join(dir, "initrd.img");
  execFileSync("head", ["-c", String(12 * MiB), "/dev/urandom"], { stdio: ["ignore", openSync(kernel, "w"), "ignore"] });
  execFileSync("head", ["-c", String(22 * MiB), "/dev/urandom"], { stdio: ["ignore", openSync(initrd, "w"), "ignore"] });

  const secret = generateSecretKey();
  const inputs = [
    { name: "rootfs.ext4", target: "root" as const, path: rootfs },
    { name: "vmlinuz", target: "boot" as const, path: kernel },
    { name: "initrd.img", target: "boot" as const, path: initrd },
  ];
  /** Packs the bundle as `image bundle` does (gzip parts), or raw as bundles were before, and times it. */
  const pack = async (name: string, compress: "gzip" | "none") => {
    const t0 = process.hrtime.bigint();
    const r = await writeBundle(join(dir, name), { version: "99.0.0", board: "x86_64" }, inputs, secret, { compress });
    return { ...r, seconds: seconds(t0) };
  };
  const packed = await pack("v2.sovupdate", "gzip");
  const raw = await pack("v2-raw.sovupdate", "none");
  const rawPartBytes = packed.manifest.parts.reduce((s, p) => s + p.size, 0);

  // The inactive slot: a file as large as a slot partition would be.
  const slot = join(dir, "slot-b.img");
  closeSync(openSync(slot, "w"));
  execFileSync("truncate", ["-s", String(statSync(rootfs).size + 64 * MiB), slot]);
  const bootDir = join(dir, "esp", "sovereign", "b");
  mkdirSync(bootDir, { recursive: true });
  /** One apply into the slot file with the page cache dropped first, timed as a whole and by phase. */
  const apply = async (bundle: string) => {
    const cold = dropCaches();
    const phases: Record<string, number> = {};
    let phase = "";
    let phaseStart = process.hrtime.bigint();
    const t0 = process.hrtime.bigint();
    const result = await writeBundleToSlot(bundle, { trustedKeys: [Buffer.from(publicKeyOf(secret)).toString("hex")], board: "x86_64", runningVersion: "0.1.0" }, { root: slot, bootFiles: bootDir, bootImage: null }, {
      onProgress: (name) => {
        if (name !== phase) {
          if (phase) phases[phase] = seconds(phaseStart);
          phase = name;
          phaseStart = process.hrtime.bigint();
        }
      },
    });
    if (phase) phases[phase] = seconds(phaseStart);
    const applySeconds = seconds(t0);
    if (!existsSync(join(bootDir, "vmlinuz"))) throw new Error("the apply wrote no kernel");
    return { seconds: applySeconds, bytesWritten: result.bytesWritten, mibPerSecond: +(result.bytesWritten / MiB / applySeconds).toFixed(1), phases, pageCacheDropped: cold };
  };
  const applied = await apply(packed.path);
  const appliedRaw = await apply(raw.path);

  writeResult("update", {
    command: "npm run bench update",
    root: rootSource,
    bundle: {
      bytes: packed.bytes,
      rawPartBytes,
      ratio: +(packed.bytes / rawPartBytes).toFixed(3),
      parts: packed.manifest.parts.map((p) => ({ name: p.name, bytes: p.size, storedBytes: p.storedSize ?? p.size, encoding: p.encoding ?? "raw" })),
      packSeconds: packed.seconds,
      note: "as `sovereign image bundle` packs it: each part gzipped (zlib level 6) where that makes it smaller, hashed raw and stored",
    },
    rawBundle: { bytes: raw.bytes, packSeconds: raw.seconds, applySeconds: appliedRaw.seconds, note: "the same parts stored raw (compress: \"none\"), as bundles were before compression" },
    apply: {
      ...applied,
      note: "verify pass (signature, every part's stored sha256), then the write pass gunzipping into the slot and re-hashing stored and written bytes, then the root read back from the slot; to a slot file on this machine's disk",
    },
    ...abTimings(),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
