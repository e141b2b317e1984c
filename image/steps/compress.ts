import { renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Compression } from "../BuildContext.js";
import { exec } from "../lib/exec.js";
import type { Step } from "./Step.js";

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
export const compressStep: Step = {
  name: "compress",
  title: "Compress the image",
  async run(ctx) {
    const disk = ctx.state.diskTmp;
    if (!disk) throw new Error("compress before assemble");
    const final = join(ctx.options.out, compressedName(ctx.name, ctx.options.compress));
    if (ctx.options.compress === "none") {
      renameSync(disk, final);
    } else {
      const partial = `${final}.partial`;
      const [cmd, args] = compressCommand(ctx.options.compress, disk, partial);
      ctx.progress(`${ctx.options.compress} ${final}`);
      try {
        await exec(cmd, args, { logFile: ctx.logFile, nice: true });
        renameSync(partial, final);
      } finally {
        rmSync(partial, { force: true });
        rmSync(disk, { force: true });
      }
    }
    ctx.state.diskTmp = undefined;
    ctx.state.outputs.push({ path: final, sha256: "", bytes: 0 });
    return ctx.options.compress === "none" ? "--compress none (renamed the raw image)" : undefined;
  },
};
