import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { detectHardware } from "../../../hardware/detectHardware.js";
import { loadCalibration, saveCalibration } from "../../../hardware/calibrationStore.js";
import { calibrate } from "../../../hardware/calibrate.js";
import { tuneForConfig } from "../../../hardware/tuneForConfig.js";
import { checkLlamaLocalBuild } from "../../../hardware/llamaLocalBuild.js";
import { readSnapshot } from "../../../hardware/readSnapshot.js";
import { writeSnapshot } from "../../../hardware/writeSnapshot.js";
import { renderHardwareReport } from "../../../hardware/renderHardwareReport.js";
import { printResult } from "../output.js";
import { addSettingFlags, configFromFlags } from "../settingFlags.js";

export function registerHardwareCommand(program: Command): void {
  const cmd: Command = program
    .command("hardware")
    .description("Show what the node found (CPU, memory, GPU, board, boot medium) and how it tuned itself, with the reason for each choice.")
    .option("--json", "machine-readable output")
    .option("--root <dir>", "read /proc, /sys, /etc and /dev under this directory instead of / (a recorded fixture)")
    .option("--record <dir>", "copy the files detection reads into <dir>, as a fixture for tests, and exit")
    .option("--calibrate", "sweep thread counts with real inference (needs --model), store the result in the data dir, then show the tuning")
    .option("--model <file>", "GGUF model for --calibrate (use the model the node will serve, or one of its size)")
    .option("--repeats <n>", "runs per thread count in --calibrate; the best counts", "2");
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
    const dataDir = config["paths.dataDir"];

    if (opts.calibrate) {
      if (root !== undefined) cmd.error("sovereign: --calibrate measures this machine; it cannot be combined with --root");
      const modelPath = typeof opts.model === "string" ? opts.model : undefined;
      if (!modelPath) cmd.error("sovereign: --calibrate needs --model FILE (a GGUF model, ideally the one the node serves)");
      if (!existsSync(modelPath)) cmd.error(`sovereign: model file not found: ${modelPath}`);
      const repeats = Number(opts.repeats);
      if (!Number.isInteger(repeats) || repeats < 1) cmd.error("sovereign: --repeats takes a positive integer");
      const { openLlamaBenchmark } = await import("../../../hardware/llamaBenchmark.js");
      const bench = await openLlamaBenchmark(modelPath);
      try {
        const usable = report.facts.cpu.usableCpus;
        const result = await calibrate(bench, usable, {
          repeats,
          onProgress: (t, m) => {
            if (!json) process.stderr.write(`threads ${t}: prompt ${m.promptTokensPerSecond.toFixed(1)} tok/s, generation ${m.generationTokensPerSecond.toFixed(1)} tok/s\n`);
          },
        });
        const path = saveCalibration(dataDir, result);
        if (!json) process.stderr.write(`calibration saved to ${path}\n\n`);
      } finally {
        await bench.dispose();
      }
    }

    const calibration = root === undefined ? loadCalibration(dataDir, { usableCpus: report.facts.cpu.usableCpus, onWarning: (w) => warnings.push(w) }) : null;
    const tuning = tuneForConfig(report.facts, config, calibration);
    // This install's llama.cpp build against this CPU, or against a recorded board's (--root): would it load there?
    const llamaBuild = checkLlamaLocalBuild(false, root !== undefined ? join(root, "proc", "cpuinfo") : undefined);
    printResult(json, { facts: report.facts, warnings, calibration, tuning, llamaBuild }, () => renderHardwareReport({ facts: report.facts, warnings }, tuning, calibration, llamaBuild));
  });
}
