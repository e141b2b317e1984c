import { availableParallelism } from "node:os";
import type { HardwareFacts, HardwareReport } from "./HardwareFacts.js";
import { parseFacts } from "./parseFacts.js";
import { readSnapshot } from "./readSnapshot.js";
import type { SnapshotHints } from "./snapshot.js";

/**
 * Detects the hardware: reads a snapshot of the files under `root` and parses
 * it. Only the live root "/" adds what Node itself knows (arch, affinity).
 * Never throws for odd or missing files; problems come back as warnings.
 */
export async function detectHardware(options: { root?: string } = {}): Promise<HardwareReport> {
  const root = options.root ?? "/";
  const snapshot = await readSnapshot(root);
  const hints: SnapshotHints = root === "/" ? { arch: nodeArch(process.arch), availableParallelism: availableParallelism() } : {};
  return parseFacts(snapshot, hints);
}

function nodeArch(a: string): HardwareFacts["arch"] {
  return a === "x64" ? "x64" : a === "arm64" ? "arm64" : a === "arm" ? "arm" : "other";
}
