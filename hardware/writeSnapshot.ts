import { mkdirSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Snapshot } from "./snapshot.js";

/**
 * Writes a snapshot as a directory tree that `readSnapshot(dir)` reads back
 * the same: files as files, links as symbolic links, listed entries that hold
 * nothing else as empty files. This is how fixtures are recorded on a real board
 * (`sovereign hardware --record DIR`).
 */
export function writeSnapshot(s: Snapshot, outDir: string): void {
  const at = (p: string): string => join(outDir, p);
  for (const [p, text] of Object.entries(s.files)) {
    mkdirSync(dirname(at(p)), { recursive: true });
    writeFileSync(at(p), text);
  }
  for (const [p, target] of Object.entries(s.links)) {
    mkdirSync(dirname(at(p)), { recursive: true });
    if (!existsSync(at(p))) symlinkSync(target, at(p));
  }
  for (const [d, entries] of Object.entries(s.dirs)) {
    mkdirSync(at(d), { recursive: true });
    for (const e of entries) {
      // Git keeps no empty directories, so a bare entry becomes an empty file: readdir lists it the same.
      if (!existsSync(at(join(d, e)))) writeFileSync(at(join(d, e)), "");
    }
  }
}
