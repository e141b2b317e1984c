import { rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { slotBytesFor } from "../lib/abLayout.js";
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
  needs: ["boot-partition", "encrypt", "slot-verity"],
  async run(ctx, { "boot-partition": boot, encrypt, "slot-verity": slot }) {
    // Pi A/B: partition 1 is the autoboot partition, and the built boot image is slot A's boot partition.
    const slotBootImg = boot.autoboot ? boot.image : null;
    const bootImg = boot.autoboot ? boot.autoboot.image : boot.image;
    // The LUKS volume: the root, or in the A/B layout the data partition (then the root goes into slot A).
    const rootImg = encrypt.image;
    const ab = ctx.options.layout === "ab";
    const bootBytes = statSync(bootImg).size;
    const rootBytes = Math.ceil(statSync(rootImg).size / MiB) * MiB;
    if (ab && !slot) throw new SovereignError("IMAGE_COMMAND_FAILED", "the A/B layout has no verity slot image (step slot-verity)");
    const slotBytes = slot ? slotBytesFor(slot.bytes) : undefined;
    const slotBootBytes = slotBootImg ? statSync(slotBootImg).size : undefined;
    const need = minimumDiskBytes(bootBytes, rootBytes, slotBytes, slotBootBytes);
    const diskBytes = ctx.options.sizeBytes ?? need;
    if (diskBytes < need)
      throw new SovereignError("IMAGE_OPTION_INVALID", `--size is ${(diskBytes / MiB).toFixed(0)} MiB but the image needs at least ${(need / MiB).toFixed(0)} MiB`);
    // The A/B layout is GPT on every board (a Pi's six partitions do not fit an MBR's four).
    const table = ab ? "gpt" : ctx.board.partitions.table;
    const layout: DiskLayout = { table, arch: ctx.board.arch, bootBytes, rootBytes, diskBytes, ...(slotBytes ? { slotBytes } : {}), ...(slotBootBytes ? { slotBootBytes } : {}) };
    const disk = join(ctx.options.out, `.${ctx.name}.img.partial`);
    ctx.discardAtEnd(disk);
    rmSync(disk, { force: true });
    writeFileSync(disk, "");
    truncateSync(disk, diskBytes);
    await exec("sfdisk", ["--no-reread", "--no-tell-kernel", "-q", disk], { input: sfdiskScript(layout), logFile: ctx.logFile });
    const place = placePartitions(layout);
    const writes: [string, { startBytes: number }][] = [[bootImg, place.boot], [rootImg, place.root]];
    // Slot B (and a Pi's boot partition B) stays zeros (sparse, so it costs nothing compressed) until the first update writes it.
    if (place.slots && slot) writes.push([slot.image, place.slots.a]);
    if (place.slotBoots && slotBootImg) writes.push([slotBootImg, place.slotBoots.a]);
    for (const [src, p] of writes) {
      await exec("dd", [`if=${src}`, `of=${disk}`, "bs=1M", `seek=${p.startBytes / MiB}`, "conv=notrunc,sparse", "status=none"], { logFile: ctx.logFile, nice: true });
    }
    const mib = (n: number): string => `${(n / MiB).toFixed(0)} MiB`;
    ctx.progress(`${layout.table} disk ${mib(diskBytes)}: boot ${mib(bootBytes)}, ${slotBootBytes ? `slot boot partitions ${mib(slotBootBytes)} each, ` : ""}${slotBytes ? `slots A and B ${mib(slotBytes)} each, data ${mib(rootBytes)}` : `root ${mib(rootBytes)}`}`);
    return { path: disk, bytes: diskBytes, table };
  },
});
