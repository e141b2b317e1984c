import { createHash } from "node:crypto";
import { join } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { EngineHost, EngineLogger, EngineSettings, GrammarSpec, InferenceEngine } from "./InferenceEngine.js";
import { quarantined, type ModelEntry, type ModelRegistry } from "./ModelRegistry.js";
import type { RequestQueue } from "./RequestQueue.js";
// onnxruntime-node is loaded with the first ONNX embedding model, not at startup.
import type { Embedder } from "./embeddings/OnnxEmbedder.js";
import { checkSampling } from "./checkSampling.js";
import { checkJsonSchema } from "./checkJsonSchema.js";
import { readGguf } from "../../core/gguf/readGguf.js";
import { checkHyperparameters } from "../../core/gguf/checkHyperparameters.js";
import type {
  ChatMessage, EmbedRequest, EmbedResult, GenerateRequest, GenerateResult, InferenceApi, InferenceStatus, LoadedEngineStats, ToolCallDelta, ToolsSpec,
} from "./types.js";

export interface InferenceServiceOptions {
  registry: ModelRegistry;
  queue: RequestQueue;
  engine: EngineSettings;
  /** Where llama.cpp runs: supervised runner processes (RunnerHost) or this process (InProcessHost). */
  engines: EngineHost;
  embeddingThreads: number;
  embeddingBatchSize: number;
  defaultModel: string | null;
  embeddingModel: string | null;
  /** 0 = never unload. */
  idleUnloadMs: number;
  maxTokensDefault: number;
  logger?: EngineLogger;
  /** How long close() waits for running generations before aborting them, in ms. Defaults to 10 000. */
  closeTimeoutMs?: number;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * `app.inference`: resolves models, queues requests, keeps one chat model
 * loaded (switching on demand, unloading when idle), and runs embeddings.
 */
export class InferenceService implements InferenceApi {
  readonly registry: ModelRegistry;
  private engine: InferenceEngine | null = null;
  private loadedAt = "";
  private loading: Promise<unknown> | null = null;
  private users = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly embedders = new Map<string, Promise<Embedder>>();
  private idleTimer: NodeJS.Timeout | undefined;
  private lastTps: number | null = null;
  private readonly totals = { requests: 0, promptTokens: 0, completionTokens: 0 };
  private readonly generatedListeners = new Set<(r: GenerateResult) => void>();
  private closed = false;
  /** Generations holding the engine; close() waits for them. */
  private readonly running = new Set<Promise<unknown>>();
  /** Aborts what is still running when close() has waited long enough. */
  private readonly closing = new AbortController();

  constructor(private readonly opts: InferenceServiceOptions) {
    this.registry = opts.registry;
  }

  models(): ModelEntry[] {
    return this.registry.list();
  }

  onGenerated(listener: (r: GenerateResult) => void): () => void {
    this.generatedListeners.add(listener);
    return () => this.generatedListeners.delete(listener);
  }

  status(): InferenceStatus {
    const e = this.engine;
    return {
      loaded: e ? { name: e.name, contextSize: e.contextSize, sequences: e.settings.sequences, threads: e.settings.threads, loadedAt: this.loadedAt } : null,
      embeddingsLoaded: [...this.embedders.keys()],
      queue: this.opts.queue.stats(),
      lastTokensPerSecond: this.lastTps,
      totals: { ...this.totals },
      engineMode: this.opts.engines.mode,
      runners: this.opts.engines.processes(),
    };
  }

  async engineStats(): Promise<LoadedEngineStats | null> {
    const e = this.engine;
    if (!e) return null;
    return { model: e.name, engineMode: this.opts.engines.mode, ...(await e.stats()) };
  }

  busy(): boolean {
    return this.opts.queue.busy();
  }

  whenIdle(signal?: AbortSignal): Promise<void> {
    return this.opts.queue.whenIdle(signal);
  }

  /** The installed model a request means, of the kind it needs. */
  resolveModel(kind: "llm" | "embedding", name?: string): ModelEntry {
    if (name) {
      const entry = this.registry.get(name);
      if (entry.kind !== kind)
        throw new SovereignError("MODEL_WRONG_KIND", `"${name}" is ${entry.kind === "llm" ? "a chat model" : "an embedding model"}; this request needs ${kind === "llm" ? "a chat model" : "an embedding model"}.`, { details: { model: name } });
      return entry;
    }
    // The config pins a default; otherwise the admin's choice kept in the manifest. A quarantined model is never the default.
    const configured = kind === "llm" ? this.opts.defaultModel ?? this.registry.getDefault() : this.opts.embeddingModel;
    const all = this.registry.list().filter((m) => m.kind === kind && !m.quarantine);
    if (configured && (all.some((m) => m.name === configured) || !this.registry.has(configured) || all.length === 0)) return this.resolveModel(kind, configured);
    const loaded = kind === "llm" && this.engine ? all.find((m) => m.name === this.engine?.name) : undefined;
    const entry = loaded ?? all[0];
    const sick = this.registry.list().find((m) => m.kind === kind && m.quarantine);
    if (!entry && sick) throw quarantined(sick);
    if (!entry) throw new SovereignError("NO_MODEL", `No ${kind === "llm" ? "chat" : "embedding"} model is installed.`);
    return entry;
  }

  /** The grammar a request asks for, checked here (a bad schema is refused before the queue); the engine builds it where llama.cpp runs. */
  private grammarFor(sampling: GenerateRequest["sampling"]): GrammarSpec | undefined {
    if (!sampling?.jsonSchema && !sampling?.json) return undefined;
    if (sampling.jsonSchema) checkJsonSchema(sampling.jsonSchema);
    return sampling.jsonSchema ? { jsonSchema: sampling.jsonSchema } : { json: true };
  }

  /** The tools a chat request offers, their schemas checked here (refused before the queue). With tool_choice "none" they are only documented. */
  private toolsFor(req: GenerateRequest, isChat: boolean, grammar: GrammarSpec | undefined): ToolsSpec | undefined {
    const tools = req.tools;
    if (!tools || tools.functions.length === 0 || !isChat) return undefined;
    if (grammar && tools.choice !== "none") throw new SovereignError("BAD_REQUEST", "response_format (json_object / json_schema) cannot be combined with tools: a tool's arguments already follow its schema.", { details: { param: "response_format" } });
    tools.functions.forEach((f, i) => {
      if (f.parameters) checkJsonSchema(f.parameters, `tools[${i}].function.parameters`);
    });
    return tools;
  }

  /** Borrows the engine for `entry`, loading or switching models when no request is using another. */
  private async useEngine(entry: ModelEntry): Promise<InferenceEngine> {
    for (;;) {
      if (this.closed) throw new SovereignError("SHUTTING_DOWN");
      // A quarantined model (crashed its runner) is not loaded until an admin retries it.
      const current = this.registry.get(entry.name);
      if (current.quarantine) throw quarantined(current);
      if (this.engine?.name === entry.name && !this.loading && this.engine.healthy !== false) {
        this.users++;
        return this.engine;
      }
      if (this.loading) {
        await this.loading.catch(() => undefined);
        continue;
      }
      if (this.engine && this.users > 0) {
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
        continue;
      }
      const load = (async () => {
        const old = this.engine;
        this.engine = null;
        await old?.dispose();
        // The file may have been damaged since it was added: check its header, tensor ranges and hyperparameters again (cheap) before llama.cpp reads it.
        const path = this.registry.pathOf(entry);
        checkHyperparameters(readGguf(path));
        this.engine = await this.opts.engines.loadModel(entry.name, path, this.opts.engine);
        this.loadedAt = new Date().toISOString();
      })();
      this.loading = load;
      try {
        await load;
      } finally {
        this.loading = null;
      }
    }
  }

  private returnEngine(): void {
    this.users--;
    if (this.users === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
      this.scheduleIdleUnload();
    }
  }

  private scheduleIdleUnload(): void {
    if (this.opts.idleUnloadMs <= 0) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.users === 0 && !this.loading) void this.unload();
    }, this.opts.idleUnloadMs);
    this.idleTimer.unref();
  }

  async load(name?: string): Promise<void> {
    const entry = this.resolveModel("llm", name);
    await this.useEngine(entry);
    this.returnEngine();
  }

  async unload(): Promise<void> {
    if (this.users > 0 || this.loading) return;
    const engine = this.engine;
    this.engine = null;
    await engine?.dispose();
    const embedders = [...this.embedders.values()];
    this.embedders.clear();
    for (const e of embedders) await (await e.catch(() => null))?.dispose();
  }

  /** The context window a model gets here (tuning, capped by the model's trained length). */
  contextWindow(entry: ModelEntry): number {
    return Math.min(this.opts.engine.contextSize, entry.contextLength ?? Number.POSITIVE_INFINITY);
  }

  /**
   * Leaves out the oldest of the request's trimmable messages (a stored
   * conversation, see GenerateRequest.trimmable) until the prompt leaves room for the answer.
   */
  private async fitToContext(
    engine: { readonly contextSize: number; chatPromptTokens(messages: readonly ChatMessage[]): number | Promise<number> },
    messages: ChatMessage[],
    req: GenerateRequest,
  ): Promise<ChatMessage[]> {
    const t = req.trimmable;
    if (!t || t.count <= 0) return messages;
    const reserve = req.sampling?.maxTokens ?? Math.min(this.opts.maxTokensDefault, Math.floor(engine.contextSize / 4));
    const head = messages.slice(0, t.start);
    const tail = messages.slice(t.start + t.count);
    let middle = messages.slice(t.start, t.start + t.count);
    const all = () => [...head, ...middle, ...tail];
    while (middle.length > 0 && (await engine.chatPromptTokens(all())) + reserve >= engine.contextSize) {
      middle = middle.slice(1);
      // An answer without its question is left out too.
      while (middle[0]?.role === "assistant") middle = middle.slice(1);
    }
    return all();
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    if (this.closed) throw new SovereignError("SHUTTING_DOWN");
    const run = this.generateNow(req);
    this.running.add(run);
    try {
      return await run;
    } finally {
      this.running.delete(run);
    }
  }

  private async generateNow(req: GenerateRequest): Promise<GenerateResult> {
    const t0 = Date.now();
    checkSampling(req.sampling ?? {});
    const isChat = req.messages !== undefined;
    if (isChat && (req.messages?.length ?? 0) === 0) throw new SovereignError("BAD_REQUEST", "messages must hold at least one message.");
    const entry = this.resolveModel("llm", req.model);
    const grammar = this.grammarFor(req.sampling);
    const tools = this.toolsFor(req, isChat, grammar);
    const signal = req.signal ? AbortSignal.any([req.signal, this.closing.signal]) : this.closing.signal;
    const release = await this.opts.queue.acquire({ signal, ...(req.owner !== undefined ? { owner: req.owner } : {}), ...(req.background ? { background: true } : {}) });
    const queuedMs = Date.now() - t0;
    try {
      const tLoad = Date.now();
      const engine = await this.useEngine(entry);
      const loadMs = Date.now() - tLoad;
      try {
        const tRun = Date.now();
        let firstTokenAt: number | null = null;
        const onText = (text: string) => {
          firstTokenAt ??= Date.now();
          req.onText?.(text);
        };
        const onToolCall = (delta: ToolCallDelta) => {
          firstTokenAt ??= Date.now();
          req.onToolCall?.(delta);
        };
        const messages = isChat ? await this.fitToContext(engine, req.messages ?? [], req) : [];
        const key = req.slotKey !== undefined ? `k:${req.slotKey}` : isChat ? `h:${createHash("sha1").update(JSON.stringify(messages.slice(0, 2))).digest("hex")}` : null;
        const run = { sampling: req.sampling ?? {}, grammar, signal, onText, key, ...(tools ? { tools, onToolCall } : {}) };
        const result = isChat
          ? await engine.chat(messages, run, this.opts.maxTokensDefault)
          : await engine.complete(req.prompt ?? "", run, this.opts.maxTokensDefault);
        const end = Date.now();
        // The engine times its tokens where they are made; the text callback's clock is the fallback.
        const genMs = result.firstToLastMs ?? (firstTokenAt !== null ? end - firstTokenAt : 0);
        const tps = genMs > 0 && result.completionTokens > 1 ? ((result.completionTokens - 1) * 1000) / genMs : null;
        if (tps !== null) this.lastTps = tps;
        this.totals.requests++;
        this.totals.promptTokens += result.promptTokens;
        this.totals.completionTokens += result.completionTokens;
        const out: GenerateResult = {
          model: entry.name, text: result.text, finishReason: result.finishReason, ...(result.toolCalls ? { toolCalls: result.toolCalls } : {}), promptTokens: result.promptTokens,
          completionTokens: result.completionTokens, reusedPromptTokens: result.reusedTokens,
          timings: { queuedMs, loadMs, firstTokenMs: firstTokenAt !== null ? firstTokenAt - tRun : null, totalMs: end - t0, tokensPerSecond: tps },
        };
        for (const listener of this.generatedListeners) {
          try {
            listener(out);
          } catch (err) {
            this.opts.logger?.warn({ err: (err as Error).message }, "inference: a generation listener failed");
          }
        }
        return out;
      } finally {
        this.returnEngine();
      }
    } finally {
      release();
    }
  }

  private embedder(entry: ModelEntry): Promise<Embedder> {
    let e = this.embedders.get(entry.name);
    if (!e) {
      const path = this.registry.pathOf(entry);
      if (entry.quarantine) throw quarantined(entry);
      if (entry.format === "gguf") checkHyperparameters(readGguf(path)); // damaged since it was added? stop before llama.cpp reads it
      e = entry.format === "onnx"
        ? import("./embeddings/OnnxEmbedder.js").then(({ OnnxEmbedder }) =>
            OnnxEmbedder.load(path, { threads: this.opts.embeddingThreads, batchSize: this.opts.embeddingBatchSize }))
        : this.opts.engines.loadEmbedder(entry.name, path, this.opts.embeddingThreads);
      e.catch(() => this.embedders.delete(entry.name));
      this.embedders.set(entry.name, e);
    }
    return e;
  }

  async embed(req: EmbedRequest): Promise<EmbedResult> {
    if (req.input.length === 0) throw new SovereignError("BAD_REQUEST", "input must hold at least one text.");
    const entry = this.resolveModel("embedding", req.model);
    const embedder = await this.embedder(entry);
    const out = await embedder.embed(req.input);
    this.scheduleIdleUnload();
    return { model: entry.name, ...out };
  }

  /**
   * Stops taking requests, lets running generations finish for up to
   * closeTimeoutMs, aborts what is left (they end as "abort" and are
   * recorded as such), and only then disposes the engine.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.opts.queue.drain(new SovereignError("SHUTTING_DOWN"));
    const settled = () => Promise.allSettled([...this.running]);
    if (this.running.size > 0) await Promise.race([settled(), delay(this.opts.closeTimeoutMs ?? 10_000)]);
    if (this.running.size > 0) {
      this.opts.logger?.warn({ running: this.running.size }, "generations still running at shutdown; aborting them");
      this.closing.abort(new SovereignError("SHUTTING_DOWN"));
      await Promise.race([settled(), delay(5_000)]);
    }
    await this.loading?.catch(() => undefined);
    this.users = 0;
    await this.unload();
    await this.opts.engines.close();
  }
}

export function defaultModelsDir(dataDir: string): string {
  return join(dataDir, "models");
}
