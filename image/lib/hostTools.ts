/** Host tools the build runs beyond the distro's bootstrapper, with the Debian package that provides each. */
export const hostTools: Readonly<Record<string, string>> = {
  cryptsetup: "cryptsetup-bin",
  "mkfs.ext4": "e2fsprogs",
  "mkfs.vfat": "dosfstools",
  mcopy: "mtools",
  mmd: "mtools",
  sfdisk: "fdisk",
  tar: "tar",
  zstd: "zstd",
  xz: "xz-utils",
  sha256sum: "coreutils",
  chroot: "coreutils",
  // The board's llama.cpp build (scripts/build-llama-addon.sh).
  cmake: "cmake",
  "g++": "g++",
  git: "git",
  patch: "patch",
  flock: "util-linux",
};

/**
 * The tools one build needs: the distro's (its bootstrapper) first, compression tools only when used,
 * qemu-user only for a foreign arch.
 */
export function toolsFor(opts: {
  compress: "zstd" | "xz" | "none";
  foreignArch: "arm64" | "amd64" | undefined;
  distroTools: readonly { tool: string; pkg: string }[];
}): { tool: string; pkg: string }[] {
  const names = ["cryptsetup", "mkfs.ext4", "mkfs.vfat", "mcopy", "mmd", "sfdisk", "tar", "sha256sum", "chroot", "cmake", "g++", "git", "patch", "flock"];
  if (opts.compress !== "none") names.push(opts.compress);
  const list = [...opts.distroTools, ...names.map((tool) => ({ tool, pkg: hostTools[tool] ?? tool }))];
  if (opts.foreignArch === "arm64") {
    list.push({ tool: "qemu-aarch64-static", pkg: "qemu-user-static (and binfmt-support)" });
    // better-sqlite3, unix-dgram and llama.cpp are compiled, so a foreign image needs a cross compiler.
    list.push({ tool: "aarch64-linux-gnu-g++", pkg: "g++-aarch64-linux-gnu" });
  }
  if (opts.foreignArch === "amd64") list.push({ tool: "qemu-x86_64-static", pkg: "qemu-user-static (and binfmt-support)" });
  return list;
}

/** Debian's GNU triplet for a board architecture: the prefix of its cross tools (aarch64-linux-gnu-g++, …). */
export function gnuTriplet(arch: "amd64" | "arm64"): string {
  return arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
}

/** The strip that reads the target's objects: the host's own for a native build, the triplet's for a cross one. */
export function targetStrip(arch: "amd64" | "arm64", cross: boolean): string {
  return cross ? `${gnuTriplet(arch)}-strip` : "strip";
}
