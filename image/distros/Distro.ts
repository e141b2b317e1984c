import type { BoardProfile, UnlockMethod } from "../boards/BoardProfile.js";
import type { BuildContext } from "../BuildContext.js";

/** What a distro's I/O methods get from the build: where the tree is, the caches, the log. */
export type DistroJob = Pick<BuildContext, "board" | "options" | "rootfs" | "logFile" | "progress">;

export interface InstalledPackage {
  name: string;
  version: string;
  arch: string;
}

/**
 * Everything the image steps need to know about the distribution the rootfs
 * comes from: how to bootstrap it, how to install into it, where it fetches
 * from and what its packages are called. The steps call only this, so a
 * second distribution is one module next to ./debian.ts, added to
 * ./registry.ts. The rest of the build (units, initramfs, filesystems,
 * encryption, partitions) does not depend on it.
 */
export interface Distro {
  /** `--distro` value and registry key. */
  readonly id: string;
  readonly title: string;
  /** The release images are built from; the manifest records it as `suite`. */
  readonly release: string;
  /** Host tools bootstrapping needs, with the Debian package of the build host that provides each. */
  readonly hostTools: readonly { tool: string; pkg: string }[];

  /** Layer 1: the packages every image has (init, cryptsetup, Node, mDNS) and the board's kernel. */
  basePackages(board: BoardProfile): string[];
  /** Layer 2: the board's firmware and boot packages, installed over layer 1. */
  boardPackages(board: BoardProfile): string[];
  /** What an unlock method adds to the rootfs (dracut and TPM2 tools, dropbear…). */
  unlockPackages(unlock: UnlockMethod): string[];
  /** What every image installs beyond the layers: resolver, clock sync, CA certificates, Wi-Fi. */
  appliancePackages(): string[];
  /** A vendor layer's packages when it comes from a package source (`--l4t "deb …"`). */
  vendorPackages(layer: string): string[];

  /**
   * Cache keys of the two rootfs layers: `base` changes with everything layer
   * 1 is made from, `board` with layer 1 and the board's own layer (equal to
   * `base` when the board adds nothing).
   */
  layerKeys(board: BoardProfile, mirror: string): { base: string; board: string };
  /** The image's own package sources (path in the rootfs → text), so the device updates from the same mirror. */
  sources(board: BoardProfile, mirror: string): Record<string, string>;

  /** Writes layer 1 as a tarball at `tarball` (the caller renames it into the cache when complete). */
  bootstrap(job: DistroJob, tarball: string): Promise<void>;
  /** Replaces the bootstrap's sources with the image's own, plus `extra` source lines (a vendor's). */
  writeSources(job: DistroJob, extra?: readonly string[]): void;
  /**
   * Installs packages into the rootfs, chrooted, with the host's package
   * cache bound in: names, or paths (inside the rootfs) of package files.
   * Leaves no package lists behind. With `upgrade`, first brings every
   * installed package up to the sources' newest (security fixes).
   */
  install(job: DistroJob, packages: readonly string[], opts?: { upgrade?: boolean }): Promise<void>;
  /** Every package in the rootfs, for the manifest. */
  installedPackages(rootfs: string): Promise<InstalledPackage[]>;
}
