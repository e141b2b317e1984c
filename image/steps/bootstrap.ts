import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { BoardProfile } from "../boards/BoardProfile.js";
import { exec } from "../lib/exec.js";
import { dpkgFilters } from "../lib/slim.js";
import type { Step } from "./Step.js";

export const SUITE = "trixie";

/** Packages every image has: init, unlock, the runtime's Node and mDNS. */
export const basePackages = [
  "systemd", "systemd-sysv", "udev", "dbus", "kmod", "cryptsetup", "cryptsetup-initramfs", "initramfs-tools",
  "e2fsprogs", "fdisk", "zstd", "nodejs", "avahi-daemon", "libnss-mdns",
] as const;

/** The --include list for the board, with `pkg/suite` for packages from an extra suite (the Pi 5's backports kernel). */
export function bootstrapPackages(board: BoardProfile): string[] {
  const pick = (p: string): string => (board.fromSuite[p] ? `${p}/${board.fromSuite[p]}` : p);
  return [...basePackages, ...board.packages.kernel, ...board.packages.firmware, ...board.packages.extra].map(pick);
}

/** apt source lines (one-line form) for mmdebstrap. */
export function sourceLines(board: BoardProfile, mirror: string): string[] {
  const comps = board.components.join(" ");
  return [SUITE, ...board.extraSuites].map((s) => `deb ${mirror} ${s} ${comps}`);
}

/** Cache key of a bootstrap tarball: everything that changes its contents. */
export function bootstrapKey(board: BoardProfile, mirror: string): string {
  const input = JSON.stringify({ v: 1, arch: board.arch, sources: sourceLines(board, mirror), packages: bootstrapPackages(board), dpkgFilters });
  return createHash("sha256").update(input).digest("hex").slice(0, 16);
}

/**
 * Step 1: a Debian trixie rootfs from mmdebstrap (arm64 through
 * qemu-user). The tarball is cached by its inputs and the .debs are synced
 * in and out of the apt cache dir, so a warm run skips both downloading and
 * unpacking dpkg's work.
 */
export const bootstrapStep: Step = {
  name: "bootstrap",
  title: "Bootstrap the Debian trixie rootfs",
  async run(ctx) {
    const { board, options } = ctx;
    const aptCache = join(options.cache, `apt-${board.arch}`);
    mkdirSync(aptCache, { recursive: true });
    const tarball = join(options.cache, `bootstrap-${board.arch}-${bootstrapKey(board, options.mirror)}.tar`);
    ctx.state.bootstrapCacheHit = existsSync(tarball);
    if (!ctx.state.bootstrapCacheHit) {
      ctx.progress(`mmdebstrap ${SUITE} ${board.arch} (${bootstrapPackages(board).length} packages beyond minbase)`);
      const partial = `${tarball}.partial-${process.pid}`;
      try {
        await exec(
          "mmdebstrap",
          [
            "--variant=minbase",
            `--arch=${board.arch}`,
            `--include=${bootstrapPackages(board).join(",")}`,
            ...dpkgFilters.map((f) => `--dpkgopt=${f}`),
            "--skip=essential/unlink",
            "--format=tar",
            `--setup-hook=mkdir -p "$1"/var/cache/apt/archives/`,
            `--setup-hook=sync-in ${aptCache} /var/cache/apt/archives/`,
            `--customize-hook=sync-out /var/cache/apt/archives ${aptCache}`,
            `--customize-hook=rm -f "$1"/var/cache/apt/archives/*.deb`,
            SUITE,
            partial,
            ...sourceLines(board, options.mirror),
          ],
          { logFile: ctx.logFile, nice: true, onLine: (l) => l.startsWith("I: ") && ctx.progress(l.slice(3)) },
        );
        renameSync(partial, tarball);
      } finally {
        rmSync(partial, { force: true });
      }
    } else {
      ctx.progress(`bootstrap tarball from cache (${(statSync(tarball).size / 1024 ** 2).toFixed(0)} MiB)`);
    }
    mkdirSync(ctx.rootfs, { recursive: true });
    await exec("tar", ["-xpf", tarball, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", ctx.rootfs], { logFile: ctx.logFile });
    return undefined;
  },
};
