import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { SovereignError } from "../core/errors/SovereignError.js";
import { publicKeyOf } from "../core/ed25519.js";
import type { BoardProfile } from "./boards/BoardProfile.js";
import type { BuildOptions } from "./BuildContext.js";
import { unmountAll } from "./lib/chroot.js";
import { writeBundle, type BundleInput, type BundleWriteResult } from "./lib/bundle.js";
import { loadOrCreateBuildKey } from "./lib/manifest.js";
import { resolveBoard, runBuild, type BuildEvents } from "./pipeline.js";

/** The build step after which the unencrypted ext4 root and the boot files exist: the bundle's parts. */
export const BUNDLE_STOP_AFTER = "rootfs-image";

/**
 * The slot content in a stopped build's work dir, as bundle parts: the ext4
 * root for the slot device, and what the slot boots from: the kernel and the
 * initrd on UEFI (the ESP holds them per slot); on a Pi the firmware
 * partition as a FAT image (each slot has its own firmware partition).
 */
export function bundleInputsFor(work: string, board: BoardProfile): BundleInput[] {
  const root: BundleInput = { name: "rootfs.ext4", target: "root", path: join(work, "root.img") };
  if (board.boot.kind !== "uefi") return [root, { name: "boot.vfat", target: "boot", path: join(work, "boot.img") }];
  const bootDir = join(work, "rootfs", "boot");
  const kernel = existsSync(bootDir) ? readdirSync(bootDir).filter((f) => f.startsWith("vmlinuz-")).sort().pop() : undefined;
  if (!kernel) throw new SovereignError("IMAGE_COMMAND_FAILED", `no kernel in ${bootDir}: the build did not get as far as the initramfs step`);
  const ver = kernel.slice("vmlinuz-".length);
  return [root, { name: "vmlinuz", target: "boot", path: join(bootDir, kernel) }, { name: "initrd.img", target: "boot", path: join(bootDir, `initrd.img-${ver}`) }];
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
  // The new root pins the same update key, so the version after this one is accepted too.
  const built = await runBuild({ ...o.build, stopAfter: BUNDLE_STOP_AFTER, ...(o.updateKeyFile ? { updateKeyFile: o.updateKeyFile } : {}) }, events);
  const work = resolve(o.build.out, `.work-${built.name}-${process.pid}`);
  try {
    const result = await writeBundle(o.out, { version: o.version, board: board.id }, bundleInputsFor(work, board), secret, events.onPack);
    return { ...result, publicKey: Buffer.from(publicKeyOf(secret)).toString("hex"), buildSeconds: Math.round((performance.now() - t0) / 100) / 10 };
  } finally {
    // The stopped build leaves its work dir; never remove it while anything is still mounted inside.
    unmountAll(join(work, "rootfs"));
    rmSync(work, { recursive: true, force: true });
  }
}
