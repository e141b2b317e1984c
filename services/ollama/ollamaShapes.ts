import type { ModelEntry } from "../inference/ModelRegistry.js";
import type { GenerateResult, InferenceStatus } from "../inference/types.js";

/**
 * Ollama's response bodies, from our models and results. Pure functions, so
 * the exact field names are tested without a server.
 */

/** A stand-in digest: Ollama's is the manifest's sha256; ours is the model file's, which serves the same purpose (identity). */
function details(m: ModelEntry) {
  return {
    parent_model: "",
    format: m.format,
    family: m.architecture,
    families: [m.architecture],
    parameter_size: m.parameters === null ? "" : humanParameters(m.parameters),
    quantization_level: m.quantization ?? "",
  };
}

export function humanParameters(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

export function tagsBody(models: ModelEntry[]) {
  return {
    models: models.map((m) => ({ name: m.name, model: m.name, modified_at: m.addedAt, size: m.size, digest: m.sha256, details: details(m) })),
  };
}

export function showBody(m: ModelEntry) {
  const capabilities = m.kind === "embedding" ? ["embedding"] : ["completion"];
  return {
    license: m.license ?? "",
    modelfile: `# Served by Sovereign Node from ${m.file}\nFROM ${m.file}\n`,
    parameters: "",
    template: "",
    details: details(m),
    model_info: {
      "general.architecture": m.architecture,
      "general.parameter_count": m.parameters ?? 0,
      ...(m.contextLength !== null ? { [`${m.architecture}.context_length`]: m.contextLength } : {}),
    },
    capabilities,
    modified_at: m.addedAt,
  };
}

/** GET /api/ps: the loaded chat model (and embedding models) with their memory, as `ollama ps` shows. */
export function psBody(status: InferenceStatus, models: ModelEntry[], idleUnloadMs: number) {
  const byName = new Map(models.map((m) => [m.name, m]));
  const loaded = [...(status.loaded ? [status.loaded.name] : []), ...status.embeddingsLoaded];
  const expires = idleUnloadMs > 0 ? new Date(Date.now() + idleUnloadMs).toISOString() : "0001-01-01T00:00:00Z";
  return {
    models: loaded.flatMap((name) => {
      const m = byName.get(name);
      if (!m) return [];
      return [{ name, model: name, size: m.size, digest: m.sha256, details: details(m), expires_at: expires, size_vram: 0, context_length: status.loaded?.name === name ? status.loaded.contextSize : undefined }];
    }),
  };
}

const ns = (ms: number | null | undefined) => Math.round((ms ?? 0) * 1e6);

/** The statistics Ollama puts on its last (done) message, in nanoseconds. */
export function doneStats(r: GenerateResult) {
  // totalMs runs from the request's arrival: the queue, the model load, the prompt, then the tokens (as metrics read it).
  const t = r.timings;
  const run = Math.max(0, t.totalMs - t.queuedMs - t.loadMs);
  const first = Math.min(run, t.firstTokenMs ?? run);
  return {
    done_reason: r.finishReason === "length" ? "length" : "stop",
    total_duration: ns(t.totalMs),
    load_duration: ns(t.loadMs),
    prompt_eval_count: r.promptTokens,
    prompt_eval_duration: ns(first),
    eval_count: r.completionTokens,
    // Apps show eval_count / eval_duration as the generation speed: only the time spent making tokens.
    eval_duration: ns(run - first),
  };
}

/** Ollama's tool calls: arguments as an object. */
export function ollamaToolCalls(calls: ReadonlyArray<{ function: { name: string; arguments: string } }> | undefined) {
  if (!calls || calls.length === 0) return undefined;
  return calls.map((c) => {
    let args: unknown = {};
    try {
      args = JSON.parse(c.function.arguments);
    } catch {
      args = {};
    }
    return { function: { name: c.function.name, arguments: args } };
  });
}
