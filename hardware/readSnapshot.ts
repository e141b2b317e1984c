import { readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { emptySnapshot, type Snapshot } from "./snapshot.js";
import { planSnapshot } from "./snapshotPlan.js";

/** Files larger than this are cut (mountinfo on busy hosts; nothing we parse needs more). */
const MAX_FILE_BYTES = 256 * 1024;

/**
 * Reads every path detection wants from `root` ("/" on a device, a fixture
 * directory in tests). Each path is tried once; a missing path is simply
 * absent from the snapshot, another error is recorded in `unreadable`.
 */
export async function readSnapshot(root = "/"): Promise<Snapshot> {
  const s = emptySnapshot();
  const tried = new Set<string>();
  // The plan grows as files name other files (cgroup path, CPUs, root disk); a few rounds reach its fixed point.
  for (let round = 0; round < 5; round++) {
    const plan = planSnapshot(s);
    const jobs: Array<Promise<void>> = [];
    for (const d of plan.dirs) {
      if (tried.has(`d:${d.path}`)) continue;
      tried.add(`d:${d.path}`);
      jobs.push(
        readdir(join(root, d.path)).then(
          (entries) => void (s.dirs[d.path] = entries.filter((e) => d.keep.test(e)).sort()),
          (err: NodeJS.ErrnoException) => note(s, d.path, err),
        ),
      );
    }
    for (const p of plan.files) {
      if (tried.has(`f:${p}`)) continue;
      tried.add(`f:${p}`);
      jobs.push(
        readFile(join(root, p)).then(
          (buf) => void (s.files[p] = buf.subarray(0, MAX_FILE_BYTES).toString("utf8")),
          (err: NodeJS.ErrnoException) => note(s, p, err),
        ),
      );
    }
    for (const p of plan.links) {
      if (tried.has(`l:${p}`)) continue;
      tried.add(`l:${p}`);
      jobs.push(
        readlink(join(root, p)).then(
          (target) => void (s.links[p] = target),
          (err: NodeJS.ErrnoException) => note(s, p, err),
        ),
      );
    }
    if (jobs.length === 0) break;
    await Promise.all(jobs);
  }
  return s;
}

function note(s: Snapshot, path: string, err: NodeJS.ErrnoException): void {
  // Absent files are normal (no device tree on x86, no cgroup limit...); EINVAL is a link that is not one.
  if (err.code === "ENOENT" || err.code === "ENOTDIR" || err.code === "EINVAL" || err.code === "ENODEV") return;
  s.unreadable[path] = err.code ?? "error";
}
