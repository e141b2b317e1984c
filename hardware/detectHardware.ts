import { availableParallelism } from "node:os";
import type { HardwareFacts, HardwareReport } from "./HardwareFacts.js";
import { parseFacts } from "./parseFacts.js";
import { applyEngineGpuProbe, probeEngineGpu } from "./probeEngineGpu.js";
import { readSnapshot } from "./readSnapshot.js";
import type { SnapshotHints } from "./snapshot.js";

/**
 * Detects the hardware: reads a snapshot of the files under `root` and parses
 * it. Only the live root "/" adds what Node itself knows (arch, affinity)
 * and, where a GPU is found, whether node-llama-cpp's build for it loads
 * (`probeEngine`, on by default there). Never throws for odd or missing files;
 * problems come back as warnings.
 */
export async function detectHardware(options: { root?: string; probeEngine?: boolean } = {}): Promise<HardwareReport> {
  const root = options.root ?? "/";
  const snapshot = await readSnapshot(root);
  const hints: SnapshotHints = root === "/" ? { arch: nodeArch(process.arch), availableParallelism: availableParallelism() } : {};
  const report = parseFacts(snapshot, hints);
  if (!(options.probeEngine ?? root === "/")) return report;
  return { ...report, facts: applyEngineGpuProbe(report.facts, await probeEngineGpu(report.facts)) };
}

function nodeArch(a: string): HardwareFacts["arch"] {
  return a === "x64" ? "x64" : a === "arm64" ? "arm64" : a === "arm" ? "arm" : "other";
}
