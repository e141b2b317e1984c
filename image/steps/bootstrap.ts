import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { BuildContext } from "../BuildContext.js";
import { exec } from "../lib/exec.js";
import { defineStep } from "./Step.js";

/**
 * Replaces `dest` with what `make(partial)` writes, so that an interrupted
 * build never leaves a tarball under its final name (the build's cleanup,
 * the signal handler's included, removes the partial one).
 */
async function atomically(ctx: BuildContext, dest: string, make: (partial: string) => Promise<unknown>): Promise<void> {
  const partial = `${dest}.partial-${process.pid}`;
  ctx.discardAtEnd(partial);
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

/** Installs layer 2 into the extracted layer 1 and keeps the result as the board's tarball. */
async function boardLayer(ctx: BuildContext, tarball: string): Promise<void> {
  const { board, distro, rootfs } = ctx;
  distro.writeSources(ctx);
  await distro.install(ctx, distro.boardPackages(board));
  ctx.progress(`saving the ${board.id} rootfs to the cache`);
  await atomically(ctx, tarball, (partial) =>
    exec("tar", ["-cpf", partial, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", rootfs, "."], { logFile: ctx.logFile, nice: true }),
  );
}

/**
 * Step 1: the distro's rootfs in two cached layers. Layer 1 comes from the
 * distro's bootstrapper (arm64 through qemu-user on an x86 host) and
 * is shared by every board of the same architecture and kernel; layer 2
 * adds the board's firmware and boot packages. Both tarballs are cached by
 * their inputs and the packages are kept in the host's package cache, so a
 * warm run neither downloads nor redoes the package manager's work, and a
 * second arm64 board skips the slow emulated bootstrap.
 */
export const bootstrapStep = defineStep({
  name: "bootstrap",
  title: "Bootstrap the rootfs",
  needs: ["preflight"],
  async run(ctx) {
    const { board, distro, options } = ctx;
    const keys = distro.layerKeys(board, options.mirror);
    const tarball = join(options.cache, `bootstrap-${board.arch}-${keys.board}.tar`);
    if (existsSync(tarball)) {
      ctx.progress(`${distro.title} rootfs from cache (${(statSync(tarball).size / 1024 ** 2).toFixed(0)} MiB)`);
      await extract(ctx, tarball);
      return { tarball, cacheHit: true };
    }
    mkdirSync(options.cache, { recursive: true });
    const base = join(options.cache, `bootstrap-${board.arch}-${keys.base}.tar`);
    if (existsSync(base)) ctx.progress(`layer 1 (${board.arch}) from cache; adding ${board.id}'s packages`);
    else await atomically(ctx, base, (partial) => distro.bootstrap(ctx, partial));
    await extract(ctx, base);
    if (base !== tarball) await boardLayer(ctx, tarball);
    return { tarball, cacheHit: false };
  },
});
