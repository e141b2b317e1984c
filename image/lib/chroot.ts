import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exec, type ExecOptions } from "./exec.js";

const MOUNTS = ["proc", "sys", "dev", "dev/pts"] as const;

/** Mount points at or under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => (l.split(" ")[1] ?? "").replace(/\\040/g, " "))
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

const isMounted = (path: string): boolean => mountsUnder(path).includes(path);

/** Unmounts anything under the rootfs (the pseudo filesystems, a bound package cache). Safe to call twice; sync for signal handlers. */
export function unmountAll(rootfs: string): void {
  for (const p of mountsUnder(rootfs)) if (p !== rootfs) execFileSync("umount", ["-l", p], { stdio: "ignore" });
}

/** A host directory bound into the rootfs while `fn` runs: the distro's package cache. */
export interface CacheBind {
  /** Directory on the build host. */
  host: string;
  /** Where it appears in the rootfs, relative to its root. */
  at: string;
}

/**
 * Runs `fn` with /proc, /sys and /dev bound into the rootfs and the host's
 * resolv.conf in place (package managers need it); always undoes both. These
 * are bind mounts of the host's own pseudo filesystems, never of target
 * filesystems. With `cache`, that host directory is bound into the rootfs,
 * so packages are downloaded once per build host (nothing inside may clean
 * it: it is the host's).
 */
export async function withChroot<T>(rootfs: string, fn: () => Promise<T>, opts: { cache?: CacheBind } = {}): Promise<T> {
  const resolv = join(rootfs, "etc/resolv.conf");
  // The image's resolv.conf is a link to resolved's stub (configure step): a link is kept as a link,
  // never replaced by the host's file (it dangles outside the booted system, so test the link itself).
  const link = isLink(resolv) ? readlinkSync(resolv) : undefined;
  const saved = link === undefined && existsSync(resolv) ? readFileSync(resolv) : undefined;
  try {
    for (const m of MOUNTS) {
      const p = join(rootfs, m);
      mkdirSync(p, { recursive: true });
      if (!isMounted(p)) execFileSync("mount", ["--bind", `/${m}`, p]);
    }
    if (opts.cache) {
      const p = join(rootfs, opts.cache.at);
      mkdirSync(p, { recursive: true });
      mkdirSync(opts.cache.host, { recursive: true });
      if (!isMounted(p)) execFileSync("mount", ["--bind", opts.cache.host, p]);
    }
    rmSync(resolv, { force: true });
    if (existsSync("/etc/resolv.conf")) copyFileSync("/etc/resolv.conf", resolv);
    // Daemons must not start inside the build chroot.
    writeFileSync(join(rootfs, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n", { mode: 0o755 });
    return await fn();
  } finally {
    unmountAll(rootfs);
    rmSync(join(rootfs, "usr/sbin/policy-rc.d"), { force: true });
    rmSync(resolv, { force: true });
    if (link !== undefined) symlinkSync(link, resolv);
    else if (saved !== undefined) writeFileSync(resolv, saved);
  }
}

/** Runs a command inside the rootfs (through qemu-user when the arch is foreign). */
export async function inChroot(rootfs: string, args: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const env = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C.UTF-8", HOME: "/root", ...opts.env };
  return await exec("chroot", [rootfs, ...args], { ...opts, env, nice: true });
}
