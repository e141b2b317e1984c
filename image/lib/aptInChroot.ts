import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BuildContext } from "../BuildContext.js";
import { aptSources } from "./aptSources.js";
import { inChroot } from "./chroot.js";

/**
 * The initramfs step builds the one initrd that ships; the kernel's own hook (initramfs-tools' or
 * dracut's) would make another first (two minutes under qemu-user for arm64) that is thrown away.
 * Maintainer scripts inherit this from apt.
 */
export const NO_INITRD = { INITRD: "No" };

/** The host directory that holds .debs between builds, per architecture. */
export function aptCacheDir(ctx: Pick<BuildContext, "board" | "options">): string {
  return join(ctx.options.cache, `apt-${ctx.board.arch}`);
}

/** Replaces mmdebstrap's one-line sources with the image's own (the board's components and suites). */
export function writeAptSources(ctx: Pick<BuildContext, "board" | "options" | "rootfs">): void {
  const apt = join(ctx.rootfs, "etc/apt");
  mkdirSync(join(apt, "sources.list.d"), { recursive: true });
  rmSync(join(apt, "sources.list"), { force: true });
  writeFileSync(join(apt, "sources.list.d/debian.sources"), aptSources(ctx.board, ctx.options.mirror));
}

/** `apt-get update`, then installs `pkgs` without recommends and without building an initrd. Runs inside withChroot. */
export async function aptInstall(ctx: Pick<BuildContext, "rootfs" | "logFile" | "progress">, pkgs: readonly string[]): Promise<void> {
  ctx.progress("apt-get update in the rootfs");
  await inChroot(ctx.rootfs, ["apt-get", "update", "-q"], { logFile: ctx.logFile });
  ctx.progress(`apt-get install ${pkgs.join(" ")}`);
  await inChroot(ctx.rootfs, ["apt-get", "install", "-y", "-q", "--no-install-recommends", ...pkgs], { logFile: ctx.logFile, env: NO_INITRD });
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
