import { renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Compression } from "../BuildContext.js";
import { exec } from "../lib/exec.js";
import { defineStep, skip } from "./Step.js";

export function compressedName(name: string, c: Compression): string {
  return c === "zstd" ? `${name}.img.zst` : c === "xz" ? `${name}.img.xz` : `${name}.img`;
}

/** The command that compresses `src` into `dst` (zstd -T0 is fast and multi-threaded; xz is smaller and slow). */
export function compressCommand(c: Exclude<Compression, "none">, src: string, dst: string): [string, string[]] {
  return c === "zstd" ? ["zstd", ["-q", "-T0", "-3", "-f", src, "-o", dst]] : ["sh", ["-c", `xz -T0 -6 -c '${src}' > '${dst}'`]];
}

/**
 * Step 8a: compress, writing to a .partial name and renaming only when
 * complete, so an interrupted build never leaves a half image under the
 * final name.
 */
export const compressStep = defineStep({
  name: "compress",
  title: "Compress the image",
  needs: ["assemble"],
  async run(ctx, { assemble }) {
    const disk = assemble.path;
    const final = join(ctx.options.out, compressedName(ctx.name, ctx.options.compress));
    if (ctx.options.compress === "none") {
      renameSync(disk, final);
      return skip("--compress none (renamed the raw image)", { image: final });
    }
    const partial = `${final}.partial`;
    ctx.discardAtEnd(partial);
    const [cmd, args] = compressCommand(ctx.options.compress, disk, partial);
    ctx.progress(`${ctx.options.compress} ${final}`);
    try {
      await exec(cmd, args, { logFile: ctx.logFile, nice: true });
      renameSync(partial, final);
    } finally {
      rmSync(partial, { force: true });
      rmSync(disk, { force: true });
    }
    return { image: final };
  },
});
