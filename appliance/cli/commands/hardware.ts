import type { Command } from "commander";
import { detectHardware } from "../../../hardware/detectHardware.js";
import { loadCalibration } from "../../../hardware/calibrationStore.js";
import { tuneForConfig } from "../../../hardware/tuneForConfig.js";
import { readSnapshot } from "../../../hardware/readSnapshot.js";
import { writeSnapshot } from "../../../hardware/writeSnapshot.js";
import { renderHardwareReport } from "../../../hardware/renderHardwareReport.js";
import { printResult } from "../output.js";
import { addSettingFlags, configFromFlags } from "../settingFlags.js";

export function registerHardwareCommand(program: Command): void {
  const cmd = program
    .command("hardware")
    .description("Show what the node found (CPU, memory, GPU, board, boot medium) and how it tuned itself, with the reason for each choice.")
    .option("--json", "machine-readable output")
    .option("--root <dir>", "read /proc, /sys, /etc and /dev under this directory instead of / (a recorded fixture)")
    .option("--record <dir>", "copy the files detection reads into <dir>, as a fixture for tests, and exit");
  addSettingFlags(cmd).action(async (opts: Record<string, unknown>) => {
    const json = Boolean(opts.json);
    const { config } = configFromFlags(opts);
    const root = typeof opts.root === "string" ? opts.root : undefined;
    if (typeof opts.record === "string") {
      writeSnapshot(await readSnapshot(root ?? "/"), opts.record);
      printResult(json, { recorded: opts.record }, () => `recorded the hardware files into ${String(opts.record)}`);
      return;
    }
    const report = await detectHardware(root !== undefined ? { root } : {});
    const warnings = [...report.warnings];
    const calibration = root === undefined ? loadCalibration(config["paths.dataDir"], { usableCpus: report.facts.cpu.usableCpus, onWarning: (w) => warnings.push(w) }) : null;
    const tuning = tuneForConfig(report.facts, config, calibration);
    printResult(json, { facts: report.facts, warnings, calibration, tuning }, () => renderHardwareReport({ facts: report.facts, warnings }, tuning, calibration));
  });
}
