import type { EngineEmbedder, EngineHost, EngineLogger, EngineProcessStats, EngineSettings, InferenceEngine } from "./InferenceEngine.js";

/**
 * llama.cpp in the node's own process, as before runners: a native abort here
 * ends the node. Kept behind inference.engineMode = "in-process" for the bench
 * comparison; node-llama-cpp is imported only when this host loads a model.
 */
export class InProcessHost implements EngineHost {
  readonly mode = "in-process" as const;
  constructor(private readonly logger?: EngineLogger) {}

  async loadModel(name: string, path: string, settings: EngineSettings): Promise<InferenceEngine> {
    const { LlamaEngine } = await import("./LlamaEngine.js");
    return LlamaEngine.load(name, path, settings, this.logger);
  }

  async loadEmbedder(_name: string, path: string, threads: number): Promise<EngineEmbedder> {
    const { GgufEmbedder } = await import("./embeddings/GgufEmbedder.js");
    return GgufEmbedder.load(path, threads, this.logger);
  }

  processes(): EngineProcessStats[] {
    return [];
  }

  async close(): Promise<void> {}
}
