import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { BootFiles, BootOp, BootSelector } from "../../core/bootSelection.js";

/** Reads the files a selector watches from the boot directory. */
export function readBootFiles(bootDir: string, selector: BootSelector): BootFiles {
  const files = new Map<string, string>();
  for (const w of selector.watched) {
    if (w.endsWith("/")) {
      const dir = join(bootDir, w);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir)) files.set(`${w}${f}`, readFileSync(join(dir, f), "utf8"));
    } else if (existsSync(join(bootDir, w))) {
      files.set(w, readFileSync(join(bootDir, w), "utf8"));
    }
  }
  return files;
}

/** Carries out the operations in order; each write goes to a temp name, is synced, then renamed (FAT has no better atomicity). */
export function applyBootOps(bootDir: string, ops: readonly BootOp[]): void {
  for (const o of ops) {
    if (o.op === "write") {
      const p = join(bootDir, o.path);
      mkdirSync(dirname(p), { recursive: true });
      const tmp = `${p}.new`;
      writeFileSync(tmp, o.content);
      const fd = openSync(tmp, "r");
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, p);
    } else if (o.op === "rename") {
      renameSync(join(bootDir, o.from), join(bootDir, o.to));
    } else {
      rmSync(join(bootDir, o.path), { force: true });
    }
  }
}
