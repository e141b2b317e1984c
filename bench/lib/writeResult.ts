import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem, arch, platform, release, loadavg } from "node:os";
import { join } from "node:path";

/** Facts about the machine a benchmark ran on, stored beside every result. */
export function machineFacts(): Record<string, unknown> {
  const c = cpus();
  return {
    cpuModel: c[0]?.model ?? "unknown",
    logicalCpus: c.length,
    totalMemBytes: totalmem(),
    arch: arch(),
    platform: platform(),
    kernel: release(),
    node: process.version,
  };
}

/**
 * The engine setting a result was measured at (issue 19: results taken at
 * different thread counts were compared as if alike). null in a result means
 * the bench runs no llama.cpp engine.
 */
export interface EngineFacts {
  generationThreads: number;
  promptThreads: number;
  /** Parallel sequences per runner. */
  sequences: number;
  runners?: number;
  engineMode?: string;
  /** inference.streamIntervalMs: how often a runner sends streamed text. */
  streamIntervalMs?: number;
}

/** The engine setting of a running app (its tuning after config overrides). */
export function engineFactsOf(app: { tuning: { generationThreads: { value: number }; promptThreads: { value: number }; parallelSequences: { value: number }; runners: { value: number } }; config: { "inference.engineMode": string; "inference.streamIntervalMs": number } }): EngineFacts {
  return {
    generationThreads: app.tuning.generationThreads.value,
    promptThreads: app.tuning.promptThreads.value,
    sequences: app.tuning.parallelSequences.value,
    runners: app.tuning.runners.value,
    engineMode: app.config["inference.engineMode"],
    streamIntervalMs: app.config["inference.streamIntervalMs"],
  };
}

/**
 * The commit the code was measured at; dirty when the working tree had uncommitted changes outside bench/results
 * (a bench that saves after each part, like llamaRef, changes its own result file first).
 */
export function gitFacts(): { commit: string | null; dirty: boolean | null } {
  const cwd = join(import.meta.dirname, "..", "..");
  try {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/results"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() !== "";
    return { commit, dirty };
  } catch {
    return { commit: null, dirty: null }; // not a checkout (an image build)
  }
}

/**
 * Writes bench/results/<name>.json with the machine's facts, the commit, the
 * engine setting (`engine`, null when the bench runs no engine), the load
 * average at the end and the time of the run; prints a summary line.
 */
export function writeResult(name: string, results: Record<string, unknown>, engine: EngineFacts | null = null): string {
  const dir = join(import.meta.dirname, "..", "results");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  const record = { name, measuredAt: new Date().toISOString(), ...gitFacts(), machine: { ...machineFacts(), loadAverageAtEnd: loadavg() }, engine, results };
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`bench ${name}: wrote ${path}`);
  return path;
}
