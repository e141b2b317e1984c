import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import type { SlotVerity } from "../core/bootSelection.js";
import { dirname, join, resolve } from "node:path";
import { SovereignError } from "../core/errors/SovereignError.js";
import { publicKeyOf } from "../core/ed25519.js";
import { BOOT_IMAGE_PART } from "../core/updateBundle.js";
import type { BoardProfile } from "./boards/BoardProfile.js";
import type { BuildOptions } from "./BuildContext.js";
import { unmountAll } from "./lib/chroot.js";
import { exec } from "./lib/exec.js";
import { writeBundle, type BundleInput, type BundleWriteResult } from "./lib/bundle.js";
import { loadOrCreateBuildKey } from "./lib/manifest.js";
import { resolveBoard, runBuild, type BuildEvents } from "./pipeline.js";
import { SLOT_VERITY_FILE } from "./steps/slotVerity.js";

/** The build step after which the slot's root (ext4 and its verity tree) and the boot files exist: the bundle's parts. */
export const BUNDLE_STOP_AFTER = "slot-verity";

/**
 * The slot content in a stopped build's work dir, as bundle parts: the ext4
 * root for the slot device, and what the slot boots from. On UEFI that is the
 * kernel and initrd the ESP image carries (the root's own initrd copy is
 * emptied by the rootfs step), copied out of the FAT image with mtools; on a
 * Pi the firmware partition image itself (each slot has its own).
 */
export async function bundleInputsFor(work: string, board: BoardProfile): Promise<BundleInput[]> {
  // The root part: the filesystem with its verity tree appended (step slot-verity).
  const root: BundleInput = { name: "rootfs.ext4", target: "root", path: join(work, "root.img") };
  const bootImg = join(work, "boot.img");
  if (board.boot.kind !== "uefi") return [root, { name: BOOT_IMAGE_PART, target: "boot", path: bootImg }];
  const dir = join(work, "bundle-boot");
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env, MTOOLS_SKIP_CHECK: "1" };
  // Bundles are built with the A/B layout, whose ESP keeps a slot's pair under /sovereign/<slot>/ (slot A at build).
  for (const f of ["vmlinuz", "initrd.img"]) await exec("mcopy", ["-o", "-n", "-i", bootImg, `::/sovereign/a/${f}`, join(dir, f)], { env });
  const inputs: BundleInput[] = [root, { name: "vmlinuz", target: "boot", path: join(dir, "vmlinuz") }, { name: "initrd.img", target: "boot", path: join(dir, "initrd.img") }];
  const empty = inputs.filter((i) => statSync(i.path).size === 0);
  if (empty.length > 0) throw new SovereignError("IMAGE_COMMAND_FAILED", `the build produced empty ${empty.map((i) => i.name).join(", ")}; no bundle was written`);
  return inputs;
}

/** The root hash and tree offset the slot-verity step wrote beside the root image. */
export function builtSlotVerity(work: string): SlotVerity {
  const f = join(work, SLOT_VERITY_FILE);
  if (!existsSync(f)) throw new SovereignError("IMAGE_COMMAND_FAILED", `the build left no ${SLOT_VERITY_FILE}: the slot's verity tree was not made, so no bundle was written`);
  return JSON.parse(readFileSync(f, "utf8")) as SlotVerity;
}

export interface BundleOptions {
  build: BuildOptions;
  version: string;
  /** The signing key (32 raw bytes, 0600); defaults to the build key in the cache. */
  updateKeyFile?: string;
  out: string;
}

export interface BundleResult extends BundleWriteResult {
  /** The public key (hex) a node must list in update.trustedKeys to accept this bundle. */
  publicKey: string;
  buildSeconds: number;
}

/**
 * `sovereign image bundle`: runs the image pipeline up to the unencrypted
 * root filesystem, packs the slot content into one signed bundle, and removes
 * the build's work dir.
 */
export async function buildBundle(o: BundleOptions, events: BuildEvents & { onPack?: (phase: string, done: number, total: number) => void } = {}): Promise<BundleResult> {
  const board = resolveBoard(o.build.board);
  const secret = o.updateKeyFile ? new Uint8Array(readFileSync(o.updateKeyFile)) : loadOrCreateBuildKey(join(resolve(o.build.cache), "build-key.ed25519"));
  if (secret.length !== 32) throw new SovereignError("IMAGE_OPTION_INVALID", `--update-key ${o.updateKeyFile ?? ""} must hold a 32-byte ed25519 secret key (like .cache/image/build-key.ed25519)`);
  const t0 = performance.now();
  // A private output dir: the build also writes its passphrase and recovery key there, which a bundle
  // (whose root is not encrypted) has no use for, so none of it outlives the bundle.
  const scratch = mkdtempSync(join(dirname(resolve(o.out)), ".bundle-build-"));
  const work = (name: string): string => join(scratch, `.work-${name}-${process.pid}`);
  let name: string | null = null;
  try {
    // The new root pins the same update key, so the version after this one is accepted too.
    // The A/B layout's root: the node's own files are on the data partition, so the slot holds none; the
    // runtime reports the bundle's version.
    const built = await runBuild({ ...o.build, layout: "ab", version: o.version, out: scratch, stopAfter: BUNDLE_STOP_AFTER, ...(o.updateKeyFile ? { updateKeyFile: o.updateKeyFile } : {}) }, events);
    name = built.name;
    const result = await writeBundle(o.out, { version: o.version, board: board.id, verity: builtSlotVerity(work(name)) }, await bundleInputsFor(work(name), board), secret, events.onPack ? { onProgress: events.onPack } : {});
    return { ...result, publicKey: Buffer.from(publicKeyOf(secret)).toString("hex"), buildSeconds: Math.round((performance.now() - t0) / 100) / 10 };
  } finally {
    // The stopped build leaves its work dir; never remove it while anything is still mounted inside.
    if (name) unmountAll(join(work(name), "rootfs"));
    rmSync(scratch, { recursive: true, force: true });
  }
}
