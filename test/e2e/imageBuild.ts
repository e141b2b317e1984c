// Shared by the image e2e suites: build an image through the real CLI, once per output directory.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { inCI } from "../helpers/requireTool.js";
import type { UnlockMethod } from "../../image/boards/BoardProfile.js";
import { findBoard } from "../../image/boards/registry.js";
import { AUTOBOOT_MIB } from "../../image/lib/abLayout.js";
import { listInitrd, missingInitrdModules, requiredInitrdModules, type InitrdListing } from "../../image/lib/initrdModules.js";
import { verifyManifest, type BuildManifest } from "../../image/lib/manifest.js";
import type { BuildResult } from "../../image/pipeline.js";

export const repoRoot = resolve(import.meta.dirname, "../..");
export const imageCache = join(repoRoot, ".cache/image");

/** What `sovereign image build --json` prints: the pipeline's own result type. */
export type BuiltImage = BuildResult;

export function requireRoot(): boolean {
  if (process.getuid?.() === 0) return true;
  const msg = "the image suites need root (chroot, file ownership)";
  if (inCI) throw new Error(`${msg}; in CI a missing prerequisite fails the run`);
  process.stderr.write(`skipping: ${msg}\n`);
  return false;
}

/**
 * The lock a build or bundle with these CLI arguments holds. One build per architecture at a time
 * (npm test runs the arm64 suites beside the others): the second then reuses the first one's bootstrap
 * tarball and .debs instead of racing it for them. Builds for different architectures share no cache
 * file but the build key, which is created atomically.
 */
export function buildLock(args: string[]): string {
  const board = args.includes("--board") ? findBoard(args[args.indexOf("--board") + 1] ?? "") : undefined;
  mkdirSync(imageCache, { recursive: true });
  return join(imageCache, `.e2e-build-${board?.arch ?? "any"}.lock`);
}

/**
 * Builds with the CLI (`sovereign image build … --json`) unless a result for
 * the same output directory exists and SOVEREIGN_IMAGE_E2E_REUSE=1 (for
 * iterating on the checks). Test images use a cheap build KDF and a status
 * line on the second serial port.
 */
export function buildImage(out: string, args: string[], env: Record<string, string> = {}): BuiltImage {
  const resultFile = join(out, "result.json");
  if (process.env.SOVEREIGN_IMAGE_E2E_REUSE === "1" && existsSync(resultFile)) return JSON.parse(readFileSync(resultFile, "utf8")) as BuiltImage;
  mkdirSync(out, { recursive: true });
  const t0 = Date.now();
  mkdirSync(imageCache, { recursive: true });
  const cli = [process.execPath, "--import", "tsx", join(repoRoot, "appliance/cli/main.ts"), "image", "build", "--out", out, "--cache", imageCache, "--json", ...args];
  const r = spawnSync("flock", [buildLock(args), ...cli], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  writeFileSync(join(out, "build.stderr.log"), r.stderr ?? "");
  if (r.status !== 0) throw new Error(`image build failed (exit ${r.status}):\n${(r.stderr ?? "").slice(-4000)}\n${r.stdout ?? ""}`);
  const result = JSON.parse(r.stdout) as BuiltImage;
  writeFileSync(resultFile, JSON.stringify(result, null, 2));
  process.stderr.write(`image build ${args.join(" ")}: ${((Date.now() - t0) / 1000).toFixed(0)} s\n${result.timings.map((t) => `  ${t.step.padEnd(15)} ${t.seconds.toFixed(1)} s${t.skipped ? " (skipped)" : ""}`).join("\n")}\n`);
  // Every suite that builds to an image checks its initrd against the board's boot-critical modules.
  if (result.image) assertBootInitrdModules(result, out, args);
  return result;
}

/**
 * The initrd the firmware will load, read back from the image's boot partition (the ESP's initrd.img, or
 * raspi-firmware's initrd.img-<version>): only the first 1 MiB + boot partition of the disk is decompressed.
 */
export function bootInitrd(built: BuiltImage, out: string): InitrdListing {
  const board = findBoard(built.board);
  if (!board) throw new Error(`unknown board ${built.board}`);
  const head = join(out, "boot-head.img");
  // A Pi in the A/B layout boots slot A's boot partition, partition 2, after the autoboot partition.
  const bytes = (1 + AUTOBOOT_MIB + board.partitions.bootMiB) * 1024 * 1024;
  const cat = built.image.endsWith(".zst") ? `zstd -dc -q '${built.image}'` : built.image.endsWith(".xz") ? `xz -dc '${built.image}'` : `cat '${built.image}'`;
  run("sh", ["-c", `${cat} | head -c ${bytes} > '${head}'`]);
  const env = "MTOOLS_SKIP_CHECK=1";
  const list = (at: string): string => run("sh", ["-c", `${env} mdir -b -/ -i '${head}@@${at}' ::/`]);
  const first = list("1M");
  const at = /^::\/autoboot\.txt$/m.test(first) ? `${1 + AUTOBOOT_MIB}M` : "1M";
  const listing = at === "1M" ? first : list(at);
  const name = /^::\/((?:sovereign\/a\/)?initrd\.img[^/\s]*)$/m.exec(listing)?.[1];
  if (!name) throw new Error(`no initrd.img in the boot partition of ${built.image}:\n${listing}`);
  const initrd = join(out, "boot-initrd.img");
  run("sh", ["-c", `${env} mcopy -o -i '${head}@@${at}' '::/${name}' '${initrd}'`]);
  rmSync(head, { force: true });
  return listInitrd(readFileSync(initrd));
}

/** Fails (the suite's build) when the image's initrd lacks a module its board needs to unlock with the built method. */
export function assertBootInitrdModules(built: BuiltImage, out: string, args: readonly string[]): InitrdListing {
  const board = findBoard(built.board);
  if (!board) throw new Error(`unknown board ${built.board}`);
  const i = args.indexOf("--unlock");
  const unlock = (i >= 0 ? args[i + 1] : board.unlock[0]) as UnlockMethod;
  const l = bootInitrd(built, out);
  const modules = l.files.filter((f) => /\.ko(\.(xz|zst|gz))?$/.test(f));
  writeFileSync(join(out, "initrd-modules.txt"), modules.join("\n") + "\n");
  const missing = missingInitrdModules(l, requiredInitrdModules(board, unlock));
  if (missing.length) throw new Error(`the initrd of ${built.image} (${board.id}, ${unlock}) lacks boot-critical modules: ${missing.join(", ")}`);
  return l;
}

export function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

/** Decompresses a built .img.zst to `<out>/disk.img`, larger by `growBytes` (first boot grows into it). */
export function decompressDisk(built: BuiltImage, out: string, growBytes = 0): string {
  const disk = join(out, "disk.img");
  rmSync(disk, { force: true });
  run("zstd", ["-d", "-q", "-f", built.image, "-o", disk]);
  if (growBytes > 0) truncateSync(disk, statSync(disk).size + growBytes);
  return disk;
}

/** Byte offset of the boot partition (the first: ESP or the Pi's firmware partition) on a disk image. */
function bootPartitionOffset(disk: string): number {
  const t = JSON.parse(run("sfdisk", ["--json", disk])) as { partitiontable: { partitions: { start: number }[] } };
  const start = t.partitiontable.partitions[0]?.start;
  if (start === undefined) throw new Error("no boot partition");
  return start * 512;
}

/** Copies a file onto the disk's boot partition with mtools, as an owner would from any computer before booting. */
export function putOnBootPartition(disk: string, file: string, name: string): void {
  run("mcopy", ["-o", "-i", `${disk}@@${bootPartitionOffset(disk)}`, file, `::/${name}`]);
}

/** A file on the disk's boot partition, as text (mtools, no mount). */
export function readOnBootPartition(disk: string, name: string): string {
  return run("mtype", ["-i", `${disk}@@${bootPartitionOffset(disk)}`, `::/${name}`]);
}

/** The names in a directory of the boot partition (its top one by default). */
export function bootPartitionDir(disk: string, dir = ""): string[] {
  const prefix = dir ? `::/${dir}/` : "::/";
  return run("mdir", ["-b", "-i", `${disk}@@${bootPartitionOffset(disk)}`, `::/${dir}`]).split("\n").map((l) => l.trim()).filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

/** Renames a file on the disk's boot partition (mtools, no mount). */
export function renameOnBootPartition(disk: string, from: string, to: string): void {
  run("mren", ["-i", `${disk}@@${bootPartitionOffset(disk)}`, `::/${from}`, to]);
}


/** Where the LUKS2 volume lies on a disk image, in bytes: the last partition (the root, or the A/B layout's data partition). */
export function rootPartition(disk: string): { start: number; size: number } {
  const t = JSON.parse(run("sfdisk", ["--json", disk])) as { partitiontable: { partitions: { start: number; size: number }[] } };
  const p = t.partitiontable.partitions.at(-1);
  if (!p || t.partitiontable.partitions.length < 2) throw new Error("no root partition");
  return { start: p.start * 512, size: p.size * 512 };
}

/** Copies the LUKS volume's header region (the first 16 MiB) out of the disk, for cryptsetup and the userspace check. */
export function extractHeader(disk: string, dest: string): string {
  run("dd", [`if=${disk}`, `of=${dest}`, "bs=1M", `skip=${rootPartition(disk).start / (1024 * 1024)}`, "count=16", "status=none"]);
  return dest;
}

/** Checks SHA256SUMS and the manifest's signature by the build key written beside it; returns the manifest. */
export function verifiedManifest(built: BuiltImage, out: string): BuildManifest {
  run("sh", ["-c", `cd ${out} && sha256sum -c SHA256SUMS`]);
  const text = readFileSync(built.manifest, "utf8");
  if (!verifyManifest(text, readFileSync(`${built.manifest}.sig`, "utf8"), readFileSync(join(out, "build-key.pub"), "utf8"))) throw new Error(`${built.manifest}: bad signature`);
  return JSON.parse(text) as BuildManifest;
}

/** The GPT partition types and, read with mtools from the image file, the ESP's files and systemd-boot entry (slot A's in the A/B layout). */
export function uefiLayout(disk: string): { types: string[]; files: string; entry: string } {
  const t = JSON.parse(run("sfdisk", ["--json", disk])) as { partitiontable: { label: string; partitions: { type: string }[] } };
  if (t.partitiontable.label !== "gpt") throw new Error(`${disk}: ${t.partitiontable.label} partition table, not gpt`);
  const files = run("sh", ["-c", `MTOOLS_SKIP_CHECK=1 mdir -b -/ -i ${disk}@@1M ::/`]);
  const entry = /::\/(loader\/entries\/sovereign(?:-a)?\.conf)/.exec(files)?.[1];
  if (!entry) throw new Error(`${disk}: no sovereign loader entry on the ESP`);
  return {
    types: t.partitiontable.partitions.map((p) => p.type),
    files,
    entry: readOnBootPartition(disk, entry),
  };
}
