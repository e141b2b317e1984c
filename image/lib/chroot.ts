import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exec, type ExecOptions } from "./exec.js";

const MOUNTS = ["proc", "sys", "dev", "dev/pts"] as const;
/** Where the host's .deb cache is bound while apt runs in the rootfs. */
const APT_ARCHIVES = "var/cache/apt/archives";

function isMounted(path: string): boolean {
  return readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[1] === path);
}

/** Unmounts anything under the rootfs (bind mounts of /proc, /sys, /dev). Safe to call twice; sync for signal handlers. */
export function unmountAll(rootfs: string): void {
  for (const m of [APT_ARCHIVES, ...[...MOUNTS].reverse()]) {
    const p = join(rootfs, m);
    if (isMounted(p)) execFileSync("umount", ["-l", p], { stdio: "ignore" });
  }
}

/**
 * Runs `fn` with /proc, /sys and /dev bound into the rootfs and the host's
 * resolv.conf in place (apt needs it); always undoes both. These are bind
 * mounts of the host's own pseudo filesystems, never of target filesystems.
 * With `aptCache`, that host directory is bound over the rootfs's apt
 * archives, so .debs are downloaded once per build host (never run
 * `apt-get clean` inside: it would empty the host's cache).
 */
export async function withChroot<T>(rootfs: string, fn: () => Promise<T>, opts: { aptCache?: string } = {}): Promise<T> {
  const resolv = join(rootfs, "etc/resolv.conf");
  const hadResolv = existsSync(resolv);
  const saved = hadResolv ? readFileSync(resolv) : undefined;
  try {
    for (const m of MOUNTS) {
      const p = join(rootfs, m);
      mkdirSync(p, { recursive: true });
      if (!isMounted(p)) execFileSync("mount", ["--bind", `/${m}`, p]);
    }
    if (opts.aptCache) {
      const p = join(rootfs, APT_ARCHIVES);
      mkdirSync(p, { recursive: true });
      mkdirSync(opts.aptCache, { recursive: true });
      if (!isMounted(p)) execFileSync("mount", ["--bind", opts.aptCache, p]);
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
    if (saved !== undefined) writeFileSync(resolv, saved);
  }
}

/** Runs a command inside the rootfs (through qemu-user when the arch is foreign). */
export async function inChroot(rootfs: string, args: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const env = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C.UTF-8", HOME: "/root", ...opts.env };
  return await exec("chroot", [rootfs, ...args], { ...opts, env, nice: true });
}
