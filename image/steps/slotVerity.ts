import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { withSlotRoot, type Slot, type SlotVerity } from "../../core/bootSelection.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { exec } from "../lib/exec.js";
import { formatSlotVerity, verifySlotVerity } from "../lib/slotVerity.js";
import { defineStep, skip } from "./Step.js";

/** In the work dir: the slot's verity as JSON, which `sovereign image bundle` signs into the manifest. */
export const SLOT_VERITY_FILE = "root.verity.json";

/** The boot files that name slot A's (or, on a Pi, either slot's) root, as written by the boot partition step. */
function slotBootFiles(uefi: boolean): [string, Slot][] {
  return uefi ? [["loader/entries/sovereign-a.conf", "a"]] : [["cmdline.txt", "a"], ["cmdline-a.txt", "a"], ["cmdline-b.txt", "b"]];
}

/** A boot file with the slot's root named through verity: a loader entry's `options` line, or a Pi cmdline. */
export function withVerityBootFile(path: string, text: string, slot: Slot, verity: SlotVerity): string {
  if (path.endsWith(".conf")) return text.replace(/^options\s+(.*)$/m, (_l, opts: string) => `options ${withSlotRoot(opts, slot, verity)}`);
  return withSlotRoot(text, slot, verity) + "\n";
}

/**
 * After step 7b, in the A/B layout only: the slot's root filesystem gets its dm-verity hash tree appended (veritysetup format on
 * the file; nothing mapped), is checked against it, and the boot files that start the slot name the root hash.
 * The slot is then read-only on the device: the initramfs opens it through verity and layers RAM over it.
 */
export const slotVerityStep = defineStep({
  name: "slot-verity",
  title: "Hash the slot's root filesystem for dm-verity",
  needs: ["rootfs-image", "boot-partition"],
  async run(ctx, { "rootfs-image": root, "boot-partition": boot }) {
    if (ctx.options.layout !== "ab") return skip("one encrypted root (the single layout) is not a verity slot", null);
    const { verity, bytes, report } = await formatSlotVerity(root.image, root.fsBytes, ctx.logFile);
    if (!(await verifySlotVerity(root.image, verity))) throw new SovereignError("IMAGE_COMMAND_FAILED", "the slot image does not verify against the root hash veritysetup just printed");
    writeFileSync(join(ctx.work, SLOT_VERITY_FILE), JSON.stringify(verity) + "\n");
    const env = { ...process.env, MTOOLS_SKIP_CHECK: "1" };
    const tmp = join(ctx.work, "slot-verity");
    mkdirSync(tmp, { recursive: true });
    for (const [path, slot] of slotBootFiles(ctx.board.boot.kind === "uefi")) {
      const local = join(tmp, path.replace(/\//g, "_"));
      await exec("mcopy", ["-o", "-n", "-i", boot.image, `::/${path}`, local], { logFile: ctx.logFile, env });
      writeFileSync(local, withVerityBootFile(path, readFileSync(local, "utf8"), slot, verity));
      await exec("mcopy", ["-o", "-i", boot.image, local, `::/${path}`], { logFile: ctx.logFile, env });
    }
    ctx.progress(`root hash ${verity.rootHash.slice(0, 16)}…: ${report.hashBlocks} hash blocks after ${report.dataBlocks} data blocks (${((bytes - root.fsBytes) / 1024).toFixed(0)} KiB)`);
    return { image: root.image, bytes, verity };
  },
});
