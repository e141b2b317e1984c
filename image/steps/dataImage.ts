import { randomUUID } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { FIRSTBOOT_DIR, STATE_DIR, STATE_PATHS } from "../lib/abLayout.js";
import { makeTightExt4 } from "../lib/ext4Image.js";
import { CONFIG_DIR } from "../lib/units.js";
import { defineStep, Skipped } from "./Step.js";

/** What first boot needs once and must never sit in a slot (slots are not encrypted). */
const FIRSTBOOT_FILES = ["build.key", "recovery.key", "setup-code"] as const;

/**
 * Moves `from` to `to` and leaves an empty stand-in (same owner and mode) at
 * `from`, the mount point the initramfs binds the data partition's copy over.
 */
function moveLeavingMountPoint(from: string, to: string, kind: "dir" | "file"): void {
  mkdirSync(dirname(to), { recursive: true });
  if (!existsSync(from)) {
    if (kind === "dir") mkdirSync(from, { recursive: true });
    else writeFileSync(from, "");
  }
  const st = statSync(from);
  renameSync(from, to);
  if (kind === "dir") mkdirSync(from);
  else writeFileSync(from, "");
  chownSync(from, st.uid, st.gid);
  chmodSync(from, st.mode & 0o7777);
}

/**
 * Step 7a': the A/B layout's data partition as an ext4 file: the node's own
 * paths (image/lib/abLayout.ts STATE_PATHS: its data dir with the models,
 * machine-id, the journal) move out of the root tree into it, and so do the
 * build key, recovery key and setup code first boot uses. The root tree keeps
 * empty mount points. The encrypt step then encrypts this file instead of root.
 */
export const dataImageStep = defineStep({
  name: "data-image",
  title: "Make the data partition (A/B layout)",
  // Everything that writes the node's own files into the tree has run: configure, models, the initramfs (recovery key).
  needs: ["configure", "models", "initramfs", "boot-partition"],
  async run(ctx) {
    if (ctx.options.layout !== "ab") return new Skipped("one encrypted root (--layout single)", null);
    const tree = join(ctx.work, "data-tree");
    rmSync(tree, { recursive: true, force: true });
    mkdirSync(join(tree, STATE_DIR), { recursive: true });
    for (const p of STATE_PATHS) moveLeavingMountPoint(join(ctx.rootfs, p.path.slice(1)), join(tree, STATE_DIR, p.path.slice(1)), p.kind);
    const keys = join(tree, FIRSTBOOT_DIR);
    mkdirSync(keys, { mode: 0o700 });
    for (const f of FIRSTBOOT_FILES) {
      const src = join(ctx.rootfs, CONFIG_DIR.slice(1), f);
      if (existsSync(src)) renameSync(src, join(keys, f));
    }
    const img = join(ctx.work, "data.img");
    const fsBytes = await makeTightExt4(ctx, tree, img, { label: "sovereign-data", uuid: randomUUID(), luksRoom: true });
    rmSync(tree, { recursive: true, force: true });
    return { image: img, fsBytes };
  },
});
