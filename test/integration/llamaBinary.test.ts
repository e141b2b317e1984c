/**
 * Which llama.cpp binary a runner loads (issue 19). scripts/build-llama-addon.sh
 * installs node-llama-cpp's addon, built from its own sources with our patch
 * (a persistent ggml thread pool), as node-llama-cpp's local build; the runner
 * loads it before the prebuilt and says which one runs. The patch's effect is
 * visible from outside: the pool's worker thread lives between decodes, where
 * the prebuilt makes and ends a thread for every decode at 2 threads.
 *
 * Runs against whichever is installed (CI runs it twice: under `npm test` with
 * the prebuilt, then again after .ci/run builds the addon).
 */
import { existsSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";

const root = join(import.meta.dirname, "..", "..");
const installed = existsSync(join(execFileSync("bash", [join(root, "scripts", "build-llama-addon.sh"), "--print-dir"], { encoding: "utf8" }).trim(), "buildDone.status"));
const threadsOf = (pid: number) => readdirSync(`/proc/${pid}/task`).length;

describe(`llama.cpp binary (${installed ? "local build installed" : "prebuilt only"})`, () => {
  let t: InferenceTestApp;
  beforeAll(async () => {
    t = await startInferenceApp({ "tuning.promptThreads": 2, "tuning.generationThreads": 2, "tuning.parallelSequences": 1, "inference.threadAdapter": "off" });
  });
  afterAll(async () => t?.close());

  it("the runner reports the binary that is installed, generates with it, and keeps a pool thread only with the local build", async () => {
    const first = await t.client.completions.create({ model: "tiny", prompt: "the dog", max_tokens: 4, temperature: 0 });
    expect(first.usage?.completion_tokens).toBe(4);
    const stats = await t.app.inference.engineStats();
    expect(stats?.binary).toBe(installed ? "localBuild" : "prebuilt");
    const pid = t.app.inference.status().runners.find((r) => r.model === "tiny" && r.kind === "llm")?.pid;
    expect(pid).toBeGreaterThan(0);
    // Idle between requests: the persistent pool's worker (2 threads: one besides the decoding thread) stays.
    const idle = threadsOf(pid!);
    const r = await t.client.completions.create({ model: "tiny", prompt: "the cat", max_tokens: 24, temperature: 0 });
    expect(r.usage?.completion_tokens).toBe(24);
    const after = threadsOf(pid!);
    expect(after).toBe(idle);
    // A throwaway pool leaves no thread behind, so the prebuilt's runner holds exactly one thread fewer than the patched one
    // for the same settings; measured here as the difference against a runner at 1 thread, which has no pool worker either way.
    const single = await startInferenceApp({ "tuning.promptThreads": 1, "tuning.generationThreads": 1, "tuning.parallelSequences": 1, "inference.threadAdapter": "off" });
    try {
      await single.client.completions.create({ model: "tiny", prompt: "the dog", max_tokens: 2, temperature: 0 });
      const pid1 = single.app.inference.status().runners.find((x) => x.model === "tiny" && x.kind === "llm")?.pid;
      expect(threadsOf(pid1!) + (installed ? 1 : 0)).toBe(idle);
    } finally {
      await single.close();
    }
  });
});
