import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Calibration } from "./Tuning.js";
import { writePrivateJson } from "../core/fs/writePrivateFile.js";

export const CALIBRATION_FILE = "calibration.json";

export interface LoadCalibrationOptions {
  /** The usable CPU count now; a calibration measured with another count is ignored. */
  usableCpus?: number;
  /** Where problems go. Defaults to process.emitWarning. */
  onWarning?: (message: string) => void;
}

/**
 * Reads <dataDir>/calibration.json. Returns null when there is none; also
 * null, with a warning, when it is malformed or was measured on another CPU set.
 */
export function loadCalibration(dataDir: string, options: LoadCalibrationOptions = {}): Calibration | null {
  const warn = options.onWarning ?? ((m: string) => process.emitWarning(m, "SovereignCalibration"));
  const path = join(dataDir, CALIBRATION_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") warn(`${path}: unreadable (${(err as NodeJS.ErrnoException).code ?? String(err)}); using heuristics`);
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    warn(`${path}: not valid JSON; ignoring it (run \`sovereign hardware --calibrate\` again)`);
    return null;
  }
  const problem = validateCalibration(value);
  if (problem) {
    warn(`${path}: ${problem}; ignoring it (run \`sovereign hardware --calibrate\` again)`);
    return null;
  }
  const c = value as Calibration;
  if (options.usableCpus !== undefined && c.usableCpus !== options.usableCpus) {
    warn(`${path}: measured with ${c.usableCpus} usable CPUs, now ${options.usableCpus}; ignoring it (run \`sovereign hardware --calibrate\` again)`);
    return null;
  }
  return c;
}

/** Writes the calibration atomically (temp file, then rename) so a crash never leaves half a file. */
export function saveCalibration(dataDir: string, c: Calibration): string {
  const problem = validateCalibration(c);
  if (problem) throw new Error(`refusing to save an invalid calibration: ${problem}`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, CALIBRATION_FILE);
  writePrivateJson(path, c);
  return path;
}

/** What is wrong with a would-be calibration, or null when it is sound. */
export function validateCalibration(v: unknown): string | null {
  if (typeof v !== "object" || v === null) return "not an object";
  const c = v as Record<string, unknown>;
  const posInt = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= 1 && (x as number) <= 4096;
  if (typeof c.measuredAt !== "string" || Number.isNaN(Date.parse(c.measuredAt))) return "measuredAt is not a date";
  if (typeof c.model !== "string") return "model is not a string";
  if (!posInt(c.usableCpus)) return "usableCpus is not a positive integer";
  if (!posInt(c.bestPromptThreads) || !posInt(c.bestGenerationThreads)) return "best thread counts are not positive integers";
  if (!Array.isArray(c.sweep) || c.sweep.length === 0) return "sweep is empty";
  for (const p of c.sweep as unknown[]) {
    const e = p as Record<string, unknown> | null;
    if (!e || !posInt(e.threads) || typeof e.promptTokensPerSecond !== "number" || typeof e.generationTokensPerSecond !== "number" || !(e.promptTokensPerSecond >= 0) || !(e.generationTokensPerSecond >= 0)) {
      return "a sweep entry lacks threads or tokens per second";
    }
  }
  return null;
}
