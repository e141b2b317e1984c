import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { BuildContext } from "../BuildContext.js";
import type { BoardProfile } from "../boards/BoardProfile.js";
import { SUITE, aptSources } from "../lib/aptSources.js";
import { aptCacheDir, aptInstall, clearAptLists, NO_INITRD, writeAptSources } from "../lib/aptInChroot.js";
import { withChroot } from "../lib/chroot.js";
import { exec } from "../lib/exec.js";
import { dpkgFilters } from "../lib/slim.js";
import type { Step } from "./Step.js";

/** Packages every image has: init, unlock, the runtime's Node and mDNS. */
export const basePackages = [
  "systemd", "systemd-sysv", "udev", "dbus", "kmod", "cryptsetup", "cryptsetup-initramfs", "initramfs-tools",
  "e2fsprogs", "fdisk", "zstd", "nodejs", "avahi-daemon", "libnss-mdns",
] as const;

const pick = (board: BoardProfile) => (p: string): string => (board.fromSuite[p] ? `${p}/${board.fromSuite[p]}` : p);

/**
 * Layer 1, the --include list: the base set and the kernel, with
 * `pkg/suite` for packages from an extra suite (the Pi 5's backports
 * kernel). Boards of one architecture and kernel share it.
 */
export function basePackagesFor(board: BoardProfile): string[] {
  return [...basePackages, ...board.packages.kernel].map(pick(board));
}

/** Layer 2: the board's firmware and boot packages, installed over layer 1 with the board's own sources. */
export function boardLayerPackages(board: BoardProfile): string[] {
  return [...board.packages.firmware, ...board.packages.extra].map(pick(board));
}

/** apt source lines (one-line form) for mmdebstrap: main only, so that the layer is shared across boards. */
export function baseSourceLines(board: BoardProfile, mirror: string): string[] {
  return [SUITE, ...board.extraSuites].map((s) => `deb ${mirror} ${s} main`);
}

const hash = (input: unknown): string => createHash("sha256").update(JSON.stringify(input)).digest("hex").slice(0, 16);

/** Cache key of the layer-1 tarball: everything that changes its contents. */
export function baseKey(board: BoardProfile, mirror: string): string {
  return hash({ v: 2, arch: board.arch, sources: baseSourceLines(board, mirror), packages: basePackagesFor(board), dpkgFilters, env: NO_INITRD });
}

/** Cache key of the board's rootfs tarball (layer 1 plus layer 2). */
export function bootstrapKey(board: BoardProfile, mirror: string): string {
  const layer = boardLayerPackages(board);
  return layer.length === 0 ? baseKey(board, mirror) : hash({ v: 1, base: baseKey(board, mirror), sources: aptSources(board, mirror), packages: layer });
}

/**
 * Replaces `dest` with what `make(partial)` writes, so that an interrupted
 * build never leaves a tarball under its final name (and, through
 * cachePartials, the signal handler's cleanup removes the partial one).
 */
async function atomically(ctx: BuildContext, dest: string, make: (partial: string) => Promise<unknown>): Promise<void> {
  const partial = `${dest}.partial-${process.pid}`;
  ctx.state.cachePartials.push(partial);
  try {
    await make(partial);
    renameSync(partial, dest);
  } finally {
    rmSync(partial, { force: true });
  }
}

async function extract(ctx: BuildContext, tarball: string): Promise<void> {
  rmSync(ctx.rootfs, { recursive: true, force: true });
  mkdirSync(ctx.rootfs, { recursive: true });
  await exec("tar", ["-xpf", tarball, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", ctx.rootfs], { logFile: ctx.logFile });
}

async function mmdebstrap(ctx: BuildContext, tarball: string, aptCache: string): Promise<void> {
  const { board, options } = ctx;
  ctx.progress(`mmdebstrap ${SUITE} ${board.arch} (${basePackagesFor(board).length} packages beyond minbase)`);
  await atomically(ctx, tarball, (partial) =>
    exec(
      "mmdebstrap",
      [
        "--variant=minbase",
        `--arch=${board.arch}`,
        `--include=${basePackagesFor(board).join(",")}`,
        ...dpkgFilters.map((f) => `--dpkgopt=${f}`),
        "--skip=essential/unlink",
        "--format=tar",
        `--setup-hook=mkdir -p "$1"/var/cache/apt/archives/`,
        `--setup-hook=sync-in ${aptCache} /var/cache/apt/archives/`,
        `--customize-hook=sync-out /var/cache/apt/archives ${aptCache}`,
        `--customize-hook=rm -f "$1"/var/cache/apt/archives/*.deb`,
        SUITE,
        partial,
        ...baseSourceLines(board, options.mirror),
      ],
      { logFile: ctx.logFile, nice: true, env: { ...process.env, ...NO_INITRD }, onLine: (l) => l.startsWith("I: ") && ctx.progress(l.slice(3)) },
    ),
  );
}

/** Installs layer 2 into the extracted layer 1 and keeps the result as the board's tarball. */
async function boardLayer(ctx: BuildContext, tarball: string, aptCache: string): Promise<void> {
  const { board, rootfs } = ctx;
  writeAptSources(ctx);
  await withChroot(rootfs, () => aptInstall(ctx, boardLayerPackages(board)), { aptCache });
  clearAptLists(rootfs);
  ctx.progress(`saving the ${board.id} rootfs to the cache`);
  await atomically(ctx, tarball, (partial) =>
    exec("tar", ["-cpf", partial, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", rootfs, "."], { logFile: ctx.logFile, nice: true }),
  );
}

/**
 * Step 1: a Debian trixie rootfs in two cached layers. Layer 1 comes from
 * mmdebstrap (arm64 through qemu-user) and is shared by every board of the
 * same architecture and kernel; layer 2 adds the board's firmware and boot
 * packages. Both tarballs are cached by their inputs and the .debs are kept
 * in the apt cache dir, so a warm run neither downloads nor redoes dpkg's
 * work, and a second arm64 board skips the slow emulated bootstrap.
 */
export const bootstrapStep: Step = {
  name: "bootstrap",
  title: "Bootstrap the Debian trixie rootfs",
  async run(ctx) {
    const { board, options } = ctx;
    const aptCache = aptCacheDir(ctx);
    mkdirSync(aptCache, { recursive: true });
    const tarball = join(options.cache, `bootstrap-${board.arch}-${bootstrapKey(board, options.mirror)}.tar`);
    ctx.state.bootstrapCacheHit = existsSync(tarball);
    if (ctx.state.bootstrapCacheHit) {
      ctx.progress(`bootstrap tarball from cache (${(statSync(tarball).size / 1024 ** 2).toFixed(0)} MiB)`);
      await extract(ctx, tarball);
      return undefined;
    }
    const base = join(options.cache, `bootstrap-${board.arch}-${baseKey(board, options.mirror)}.tar`);
    if (existsSync(base)) ctx.progress(`layer 1 (${board.arch}) from cache; adding ${board.id}'s packages`);
    else await mmdebstrap(ctx, base, aptCache);
    await extract(ctx, base);
    if (base !== tarball) await boardLayer(ctx, tarball, aptCache);
    return undefined;
  },
};
