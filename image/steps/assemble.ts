import { rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { exec } from "../lib/exec.js";
import { MiB, minimumDiskBytes, placePartitions, sfdiskScript, type DiskLayout } from "../lib/sfdisk.js";
import { defineStep } from "./Step.js";

/**
 * Step 7d: the partition table written by sfdisk into the image file, and
 * each partition placed with dd conv=notrunc,sparse. The disk stays under a
 * temporary name until the last step renames it.
 */
export const assembleStep = defineStep({
  name: "assemble",
  title: "Assemble the partition table on the image file",
  needs: ["boot-partition", "encrypt"],
  async run(ctx, { "boot-partition": boot, encrypt }) {
    const bootImg = boot.image;
    const rootImg = encrypt.image;
    const bootBytes = statSync(bootImg).size;
    const rootBytes = Math.ceil(statSync(rootImg).size / MiB) * MiB;
    const need = minimumDiskBytes(bootBytes, rootBytes);
    const diskBytes = ctx.options.sizeBytes ?? need;
    if (diskBytes < need)
      throw new SovereignError("IMAGE_OPTION_INVALID", `--size is ${(diskBytes / MiB).toFixed(0)} MiB but the image needs at least ${(need / MiB).toFixed(0)} MiB`);
    const layout: DiskLayout = { table: ctx.board.partitions.table, arch: ctx.board.arch, bootBytes, rootBytes, diskBytes };
    const disk = join(ctx.options.out, `.${ctx.name}.img.partial`);
    ctx.discardAtEnd(disk);
    rmSync(disk, { force: true });
    writeFileSync(disk, "");
    truncateSync(disk, diskBytes);
    await exec("sfdisk", ["--no-reread", "--no-tell-kernel", "-q", disk], { input: sfdiskScript(layout), logFile: ctx.logFile });
    const place = placePartitions(layout);
    for (const [src, p] of [[bootImg, place.boot], [rootImg, place.root]] as const) {
      await exec("dd", [`if=${src}`, `of=${disk}`, "bs=1M", `seek=${p.startBytes / MiB}`, "conv=notrunc,sparse", "status=none"], { logFile: ctx.logFile, nice: true });
    }
    ctx.progress(`${layout.table} disk ${(diskBytes / MiB).toFixed(0)} MiB: boot ${(bootBytes / MiB).toFixed(0)} MiB, root ${(rootBytes / MiB).toFixed(0)} MiB`);
    return { path: disk, bytes: diskBytes };
  },
});
