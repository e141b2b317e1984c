import type { HardwareReport } from "./HardwareFacts.js";
import type { Calibration, Choice, Tuning } from "./Tuning.js";
import { describeLlamaBuild, type LocalBuildCheck } from "./llamaLocalBuild.js";

const GiB = 1024 ** 3;

/** The text form of `sovereign hardware`: facts, then each tuning choice with its source and reason. */
export function renderHardwareReport(report: HardwareReport, tuning: Tuning, calibration: Calibration | null, llamaBuild?: LocalBuildCheck): string {
  const f = report.facts;
  const c = f.cpu;
  const features = Object.entries(c.features)
    .filter(([, on]) => on)
    .map(([k]) => k)
    .join(" ");
  const clusters = c.clusters
    .map((cl) => `[${cl.cpus.join(",")}]${cl.capacity !== null ? ` cap ${cl.capacity}` : ""}${cl.maxFreqKhz !== null ? ` ${(cl.maxFreqKhz / 1e6).toFixed(2)} GHz` : ""}`)
    .join("  ");
  const facts: Array<[string, string]> = [
    ["model", f.model ?? "unknown"],
    ["board", f.boardId ?? "not one of ours"],
    ["arch", f.arch],
    ["cpu", c.modelName ?? "unknown"],
    ["cpus", `${c.usableCpus} usable of ${c.logicalCpus} online; ${c.physicalCores} physical (${c.performanceCores} performance, ${c.efficiencyCores} efficiency)${c.smt ? ", SMT" : ""}`],
    ["clusters", clusters || "unknown"],
    ["features", features || "none"],
    ["memory", `${(f.memory.usableBytes / GiB).toFixed(2)} GiB usable of ${(f.memory.totalBytes / GiB).toFixed(2)} GiB${f.memory.availableBytes !== null ? ` (${(f.memory.availableBytes / GiB).toFixed(2)} GiB available now)` : ""}`],
    ["cgroup", `cpu ${f.cgroup.cpuLimit ?? "unlimited"}, memory ${f.cgroup.memoryLimitBytes !== null ? `${(f.cgroup.memoryLimitBytes / GiB).toFixed(2)} GiB` : "unlimited"}`],
    ["gpu", f.gpu.kind === "none" ? "none" : `${f.gpu.kind}: ${f.gpu.name ?? "?"}${f.gpu.usable ? ` (used through node-llama-cpp's ${f.gpu.backend ?? f.gpu.kind} build)` : " (not used)"}${f.gpu.note ? `: ${f.gpu.note}` : ""}`],
    ["l4t", f.l4tRelease ?? "-"],
    ["boot medium", f.bootMedium],
    ...(llamaBuild ? [["llama.cpp", describeLlamaBuild(llamaBuild)] as [string, string]] : []),
  ];
  const rows: Array<[string, Choice<unknown>]> = Object.entries(tuning).map(([k, v]) => [k, v as Choice<unknown>]);
  const show = (v: unknown): string => (typeof v === "object" && v !== null ? Object.entries(v).map(([k, x]) => `${k}=${String(x)}`).join(" ") : String(v));
  const lines = [
    "Hardware",
    ...facts.map(([k, v]) => `  ${k.padEnd(12)} ${v}`),
    "",
    `Tuning${calibration ? ` (calibration of ${calibration.measuredAt} with ${calibration.model})` : ""}`,
    ...rows.map(([k, ch]) => `  ${k.padEnd(18)} ${show(ch.value).padEnd(30)} ${ch.source.padEnd(11)} ${ch.reason}`),
  ];
  if (report.warnings.length > 0) lines.push("", "Warnings", ...report.warnings.map((w) => `  ${w}`));
  return lines.join("\n");
}
