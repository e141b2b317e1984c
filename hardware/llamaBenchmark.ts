import { basename } from "node:path";
import { checkLlamaLocalBuild, skipLocalBuildOptions } from "./llamaLocalBuild.js";
import type { ThreadBenchmark, ThreadMeasurement } from "./calibrate.js";

export interface LlamaBenchmarkOptions {
  /** Prompt tokens evaluated per measurement. Defaults to 128. */
  promptTokens?: number;
  /** Tokens generated per measurement. Defaults to 32. */
  generatedTokens?: number;
}

/**
 * A thread benchmark on llama.cpp through node-llama-cpp's CPU prebuilt (no
 * build, no download). The model is loaded once; each measurement makes a
 * context with an explicit thread count, evaluates a prompt, then generates
 * greedily. Imported lazily: the native addon stays out of the startup path.
 */
export async function openLlamaBenchmark(modelPath: string, options: LlamaBenchmarkOptions = {}): Promise<ThreadBenchmark> {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  const promptTokens = options.promptTokens ?? 128;
  const generatedTokens = options.generatedTokens ?? 32;
  // The binary the runners load: the local build where this CPU can run it, else the prebuilt.
  const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, progressLogs: false, logLevel: LlamaLogLevel.error, ...skipLocalBuildOptions(checkLlamaLocalBuild()) });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const text = "Once upon a time, in a small village by the sea, there lived a girl who loved to build things out of wood and string. ";
  let tokens = model.tokenize(text.repeat(4));
  while (tokens.length < promptTokens) tokens = [...tokens, ...tokens];
  const prompt = tokens.slice(0, promptTokens);
  const contextSize = Math.min(model.trainContextSize, Math.max(256, promptTokens + generatedTokens + 16));

  return {
    modelName: basename(modelPath),
    async measure(threads: number): Promise<ThreadMeasurement> {
      // maxThreads 0 would let llama.cpp pick; a fixed cap makes `threads` the real count.
      llama.maxThreads = threads;
      const context = await model.createContext({ contextSize, sequences: 1, batchSize: Math.min(512, contextSize), threads });
      try {
        const sequence = context.getSequence();
        const t0 = performance.now();
        await sequence.evaluateWithoutGeneratingNewTokens(prompt);
        const t1 = performance.now();
        let generated = 0;
        const last = prompt.slice(-1);
        await sequence.clearHistory();
        await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
        const t2 = performance.now();
        for await (const _token of sequence.evaluate(last, { temperature: 0 })) {
          if (++generated >= generatedTokens) break;
        }
        const t3 = performance.now();
        return {
          promptTokensPerSecond: prompt.length / ((t1 - t0) / 1000),
          generationTokensPerSecond: generated / ((t3 - t2) / 1000),
        };
      } finally {
        await context.dispose();
      }
    },
    async dispose(): Promise<void> {
      await model.dispose();
    },
  };
}
