import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BoardProfile, UnlockMethod } from "../boards/BoardProfile.js";
import { inChroot, withChroot } from "../lib/chroot.js";
import { capture, exec } from "../lib/exec.js";
import { kernelVersions } from "../lib/kernelVersions.js";
import { parseDpkgList } from "../lib/manifest.js";
import { dpkgFilters } from "../lib/slim.js";
import type { Distro, DistroJob } from "./Distro.js";

export const SUITE = "trixie";

/** Packages every image has: init, unlock, the runtime's Node and mDNS. */
export const basePackages = [
  "systemd", "systemd-sysv", "udev", "dbus", "kmod", "cryptsetup", "cryptsetup-initramfs", "initramfs-tools",
  "e2fsprogs", "fdisk", "zstd", "nodejs", "avahi-daemon", "libnss-mdns",
] as const;

/**
 * The initramfs step builds the one initrd that ships; the kernel's own hook (initramfs-tools' or
 * dracut's) would make another first (two minutes under qemu-user for arm64) that is thrown away.
 * Maintainer scripts inherit this from apt.
 */
export const NO_INITRD = { INITRD: "No" };

/** Where the host's .deb cache appears in the rootfs while apt runs there. */
const APT_ARCHIVES = "var/cache/apt/archives";

/** `pkg/suite` for packages the board takes from an extra suite (the Pi 5's backports kernel). */
const pick = (board: BoardProfile) => (p: string): string => (board.fromSuite[p] ? `${p}/${board.fromSuite[p]}` : p);

/** Layer 1, mmdebstrap's --include list: the base set and the kernel. Boards of one architecture and kernel share it. */
export function basePackagesFor(board: BoardProfile): string[] {
  return [...basePackages, ...board.packages.kernel].map(pick(board));
}

/** Layer 2: the board's firmware and boot packages, installed over layer 1 with the board's own sources. */
export function boardLayerPackages(board: BoardProfile): string[] {
  return [...board.packages.firmware, ...board.packages.extra].map(pick(board));
}

/**
 * apt source lines (one-line form) for mmdebstrap: main only, so that layer 1 is shared across boards. With
 * trixie-updates and trixie-security, so a fresh layer 1 already has the day's kernel and fixes: the packages
 * step's upgrade then only catches up a cached layer, instead of unpacking a second kernel in every build
 * (through qemu-user for arm64; 7 packages and linux-image-6.12.118 over 6.12.117 here).
 */
export function baseSourceLines(board: BoardProfile, mirror: string): string[] {
  return [...[SUITE, `${SUITE}-updates`, ...board.extraSuites].map((s) => `deb ${mirror} ${s} main`), `deb ${securityMirror(mirror)} ${SUITE}-security main`];
}

/**
 * Where the security suite lives for a mirror: Debian publishes it as a
 * separate archive (`…/debian-security`), so a mirror or proxy of `…/debian`
 * gets the sibling path; anything else falls back to security.debian.org.
 */
export function securityMirror(mirror: string): string {
  const m = mirror.replace(/\/+$/, "");
  return /\/debian$/.test(m) ? `${m}-security` : "http://security.debian.org/debian-security";
}

/**
 * The image's own apt sources (deb822): the release, its point-release
 * updates and its security suite (so the packages step's upgrade and the
 * device's later updates get security fixes), plus the board's extra suites.
 */
export function aptSources(board: BoardProfile, mirror: string): string {
  const stanza = (uri: string, suites: string[]): string =>
    `Types: deb\nURIs: ${uri}\nSuites: ${suites.join(" ")}\nComponents: ${board.components.join(" ")}\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`;
  return [stanza(mirror, [SUITE, `${SUITE}-updates`, ...board.extraSuites]), stanza(securityMirror(mirror), [`${SUITE}-security`])].join("\n");
}

const hash = (input: unknown): string => createHash("sha256").update(JSON.stringify(input)).digest("hex").slice(0, 16);

/** Cache key of layer 1: everything that changes its contents. */
export function baseKey(board: BoardProfile, mirror: string): string {
  return hash({ v: 2, arch: board.arch, sources: baseSourceLines(board, mirror), packages: basePackagesFor(board), dpkgFilters, env: NO_INITRD });
}

/** Cache key of the board's rootfs (layer 1 plus layer 2). */
export function bootstrapKey(board: BoardProfile, mirror: string): string {
  const layer = boardLayerPackages(board);
  return layer.length === 0 ? baseKey(board, mirror) : hash({ v: 1, base: baseKey(board, mirror), sources: aptSources(board, mirror), packages: layer });
}

/** The host directory that holds .debs between builds, per architecture. */
export function aptCacheDir(job: Pick<DistroJob, "board" | "options">): string {
  return join(job.options.cache, `apt-${job.board.arch}`);
}

/**
 * What `apt-get update` leaves: the lists and apt's binary caches (80+ MB,
 * stale the day the image ships). Never `apt-get clean` instead: the .deb
 * cache is the host's, bound in.
 */
export function clearAptLists(rootfs: string): void {
  const lists = join(rootfs, "var/lib/apt/lists");
  if (existsSync(lists)) for (const f of readdirSync(lists)) if (f !== "partial" && f !== "lock") rmSync(join(lists, f), { recursive: true, force: true });
  const cache = join(rootfs, "var/cache/apt");
  if (existsSync(cache)) for (const f of readdirSync(cache)) if (f.endsWith(".bin")) rmSync(join(cache, f), { force: true });
}

/**
 * What every image adds in the (uncached) packages step, each for a reason:
 * systemd-resolved (the stub resolver, DNS from DHCP; its package makes
 * /etc/resolv.conf the stub's link), systemd-timesyncd (NTP from DHCP or
 * the owner's servers, and the clock file that keeps an RTC-less board's
 * clock from starting before the last known time), ca-certificates (TLS
 * to the update mirror and to peers), and iwd with the regulatory database
 * for Wi-Fi configured from the boot partition (image/lib/wifiImport.ts).
 */
export const appliancePackages = ["systemd-resolved", "systemd-timesyncd", "ca-certificates", "iwd", "wireless-regdb"] as const;

/** Kernel releases (`6.12.48+deb13-amd64`) other than the newest, which an upgrade left behind. */
export function olderKernels(versions: readonly string[]): string[] {
  const sorted = [...versions].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  return sorted.slice(0, -1);
}

/** Debian packages an unlock method adds to the rootfs. */
export function unlockPackages(unlock: UnlockMethod): string[] {
  switch (unlock) {
    case "tpm2":
      // dracut replaces initramfs-tools (see initramfsGenerator); systemd-cryptsetup has systemd-cryptenroll
      // and the TPM2 token plugin; dracut's tpm2-tss module requires tpm2-tools.
      return ["dracut", "systemd-cryptsetup", "tpm2-tools"];
    case "ssh":
      return ["dropbear-initramfs", "openssh-server"];
    default:
      return [];
  }
}

function sources(board: BoardProfile, mirror: string): Record<string, string> {
  return { "etc/apt/sources.list.d/debian.sources": aptSources(board, mirror) };
}

/**
 * Packages of vendor layers: the L4T drivers (nvidia-l4t), what building the
 * CUDA runner needs in its scratch rootfs (JetPack's CUDA toolkit meta package
 * and the compilers), and the CUDA libraries the runner needs in the image.
 */
const vendorLayers: Record<string, string[]> = {
  "nvidia-l4t": ["nvidia-l4t-core", "nvidia-l4t-cuda"],
  "nvidia-l4t-cuda-build": ["git", "cmake", "make", "g++", "nvidia-cuda-dev"],
  "nvidia-l4t-cuda-runtime": ["nvidia-cuda"],
};

/**
 * Debian trixie: layer 1 from mmdebstrap (arm64 through qemu-user), apt in
 * the chroot for the rest, on the host's bound .deb cache, which mmdebstrap
 * syncs in and out too.
 */
export const debian: Distro = {
  id: "debian",
  title: "Debian trixie",
  release: SUITE,
  hostTools: [{ tool: "mmdebstrap", pkg: "mmdebstrap" }],

  basePackages: basePackagesFor,
  boardPackages: boardLayerPackages,
  unlockPackages,
  // JetPack 6's apt names; NVIDIA's repository is not reachable from our build machines, so unverified here.
  vendorPackages: (layer) => vendorLayers[layer] ?? [],

  layerKeys: (board, mirror) => ({ base: baseKey(board, mirror), board: bootstrapKey(board, mirror) }),
  sources,

  async bootstrap(job, tarball) {
    const { board, options } = job;
    const aptCache = aptCacheDir(job);
    mkdirSync(aptCache, { recursive: true });
    const include = basePackagesFor(board);
    job.progress(`mmdebstrap ${SUITE} ${board.arch} (${include.length} packages beyond minbase)`);
    await exec(
      "mmdebstrap",
      [
        "--variant=minbase",
        `--arch=${board.arch}`,
        `--include=${include.join(",")}`,
        ...dpkgFilters.map((f) => `--dpkgopt=${f}`),
        "--skip=essential/unlink",
        "--format=tar",
        `--setup-hook=mkdir -p "$1"/${APT_ARCHIVES}/`,
        `--setup-hook=sync-in ${aptCache} /${APT_ARCHIVES}/`,
        `--customize-hook=sync-out /${APT_ARCHIVES} ${aptCache}`,
        `--customize-hook=rm -f "$1"/${APT_ARCHIVES}/*.deb`,
        SUITE,
        tarball,
        ...baseSourceLines(board, options.mirror),
      ],
      { logFile: job.logFile, nice: true, env: { ...process.env, ...NO_INITRD }, onLine: (l) => l.startsWith("I: ") && job.progress(l.slice(3)) },
    );
  },

  writeSources(job, extra = []) {
    const apt = join(job.rootfs, "etc/apt");
    mkdirSync(join(apt, "sources.list.d"), { recursive: true });
    // mmdebstrap's one-line sources (main only) give way to the image's own.
    rmSync(join(apt, "sources.list"), { force: true });
    for (const [path, text] of Object.entries(sources(job.board, job.options.mirror))) writeFileSync(join(job.rootfs, path), text);
    if (extra.length > 0) writeFileSync(join(apt, "sources.list.d/vendor.list"), extra.map((l) => `${l}\n`).join(""));
  },

  appliancePackages: () => [...appliancePackages],

  async install(job, packages, opts = {}) {
    const r = job.rootfs;
    await withChroot(
      r,
      async () => {
        job.progress("apt-get update in the rootfs");
        await inChroot(r, ["apt-get", "update", "-q"], { logFile: job.logFile });
        if (opts.upgrade) {
          // The cached layers come from trixie main as of their bootstrap: bring them up to the security
          // and point-release updates of today. New dependencies may come in; nothing is removed.
          job.progress("apt-get upgrade (trixie-security, trixie-updates)");
          await inChroot(r, ["apt-get", "upgrade", "-y", "-q", "--with-new-pkgs", "--no-install-recommends"], { logFile: job.logFile, env: NO_INITRD });
          // A kernel security update with a new ABI is a new package beside the old one: keep only the newest
          // (the old one would double the modules and get an initramfs of its own).
          const old = olderKernels(kernelVersions(r));
          if (old.length > 0) {
            job.progress(`removing the kernels the upgrade replaced: ${old.join(", ")}`);
            await inChroot(r, ["apt-get", "purge", "-y", "-q", ...old.map((v) => `linux-image-${v}`)], { logFile: job.logFile, env: NO_INITRD });
          }
        }
        job.progress(`apt-get install ${packages.join(" ")}`);
        await inChroot(r, ["apt-get", "install", "-y", "-q", "--no-install-recommends", ...packages], { logFile: job.logFile, env: NO_INITRD });
      },
      { cache: { host: aptCacheDir(job), at: APT_ARCHIVES } },
    );
    clearAptLists(r);
  },

  async installedPackages(rootfs) {
    const out = await capture("dpkg-query", ["--admindir", join(rootfs, "var/lib/dpkg"), "-W", "-f", "${Package}\\t${Version}\\t${Architecture}\\n"]);
    return parseDpkgList(out.replace(/\\t/g, "\t").replace(/\\n/g, "\n"));
  },
};
