import { createHash } from "node:crypto";
import { join } from "node:path";
import type { LlamaGrammar } from "node-llama-cpp";
import { SovereignError } from "../../appliance/errors/SovereignError.js";
import { LlamaEngine, loadLlama, type EngineLogger, type EngineSettings } from "./LlamaEngine.js";
import type { ModelEntry, ModelRegistry } from "./ModelRegistry.js";
import type { RequestQueue } from "./RequestQueue.js";
import { OnnxEmbedder, type Embedder } from "./embeddings/OnnxEmbedder.js";
import { GgufEmbedder } from "./embeddings/GgufEmbedder.js";
import { checkSampling } from "./checkSampling.js";
import { checkJsonSchema } from "./checkJsonSchema.js";
import type {
  ChatMessage, ConversationStore, EmbedRequest, EmbedResult, GenerateRequest, GenerateResult, InferenceApi, InferenceStatus,
} from "./types.js";

export interface InferenceServiceOptions {
  registry: ModelRegistry;
  queue: RequestQueue;
  engine: EngineSettings;
  embeddingThreads: number;
  embeddingBatchSize: number;
  defaultModel: string | null;
  embeddingModel: string | null;
  /** 0 = never unload. */
  idleUnloadMs: number;
  maxTokensDefault: number;
  logger?: EngineLogger;
  /** The memory service's conversation store, when one is installed. */
  memory?: () => ConversationStore | undefined;
}

/**
 * `app.inference`: resolves models, queues requests, keeps one chat model
 * loaded (switching on demand, unloading when idle), and runs embeddings.
 */
export class InferenceService implements InferenceApi {
  readonly registry: ModelRegistry;
  private engine: LlamaEngine | null = null;
  private loadedAt = "";
  private loading: Promise<unknown> | null = null;
  private users = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly embedders = new Map<string, Promise<Embedder>>();
  private readonly grammars = new Map<string, LlamaGrammar>();
  private idleTimer: NodeJS.Timeout | undefined;
  private lastTps: number | null = null;
  private readonly totals = { requests: 0, promptTokens: 0, completionTokens: 0 };
  private closed = false;

  constructor(private readonly opts: InferenceServiceOptions) {
    this.registry = opts.registry;
  }

  models(): ModelEntry[] {
    return this.registry.list();
  }

  status(): InferenceStatus {
    const e = this.engine;
    return {
      loaded: e ? { name: e.name, contextSize: e.contextSize, sequences: e.settings.sequences, threads: e.settings.threads, loadedAt: this.loadedAt } : null,
      embeddingsLoaded: [...this.embedders.keys()],
      queue: this.opts.queue.stats(),
      lastTokensPerSecond: this.lastTps,
      totals: { ...this.totals },
    };
  }

  /** The installed model a request means, of the kind it needs. */
  resolveModel(kind: "llm" | "embedding", name?: string): ModelEntry {
    if (name) {
      const entry = this.registry.get(name);
      if (entry.kind !== kind)
        throw new SovereignError("MODEL_WRONG_KIND", `"${name}" is ${entry.kind === "llm" ? "a chat model" : "an embedding model"}; this request needs ${kind === "llm" ? "a chat model" : "an embedding model"}.`, { details: { model: name } });
      return entry;
    }
    const configured = kind === "llm" ? this.opts.defaultModel : this.opts.embeddingModel;
    if (configured) return this.resolveModel(kind, configured);
    const all = this.registry.list().filter((m) => m.kind === kind);
    const loaded = kind === "llm" && this.engine ? all.find((m) => m.name === this.engine?.name) : undefined;
    const entry = loaded ?? all[0];
    if (!entry) throw new SovereignError("NO_MODEL", `No ${kind === "llm" ? "chat" : "embedding"} model is installed.`);
    return entry;
  }

  private async grammarFor(sampling: GenerateRequest["sampling"]): Promise<LlamaGrammar | undefined> {
    if (!sampling?.jsonSchema && !sampling?.json) return undefined;
    if (sampling.jsonSchema) checkJsonSchema(sampling.jsonSchema);
    const key = sampling.jsonSchema ? JSON.stringify(sampling.jsonSchema) : "json";
    const cached = this.grammars.get(key);
    if (cached) return cached;
    const llama = await loadLlama(this.opts.logger);
    let grammar: LlamaGrammar;
    try {
      grammar = sampling.jsonSchema
        ? await llama.createGrammarForJsonSchema(sampling.jsonSchema as Parameters<typeof llama.createGrammarForJsonSchema>[0])
        : await llama.getGrammarFor("json");
    } catch (err) {
      throw new SovereignError("INVALID_JSON_SCHEMA", `The JSON schema cannot be turned into a grammar: ${(err as Error).message}`, { cause: err });
    }
    if (this.grammars.size >= 32) this.grammars.delete(this.grammars.keys().next().value as string);
    this.grammars.set(key, grammar);
    return grammar;
  }

  /** Borrows the engine for `entry`, loading or switching models when no request is using another. */
  private async useEngine(entry: ModelEntry): Promise<LlamaEngine> {
    for (;;) {
      if (this.closed) throw new SovereignError("SHUTTING_DOWN");
      if (this.engine?.name === entry.name && !this.loading) {
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
        this.engine = await LlamaEngine.load(entry.name, this.registry.pathOf(entry), this.opts.engine, this.opts.logger);
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

  private async withMemory(req: GenerateRequest, messages: ChatMessage[]): Promise<ChatMessage[]> {
    const store = req.memory && req.conversationId ? this.opts.memory?.() : undefined;
    if (!store || !req.conversationId) return messages;
    const history = store.history ? await store.history(req.conversationId) : [];
    const lastUser = [...messages].reverse().find((m) => m.role === "user");
    const passages = store.retrieve && lastUser ? await store.retrieve(lastUser.content, { conversationId: req.conversationId, limit: 4 }) : [];
    const context: ChatMessage[] = passages.length > 0 ? [{ role: "system", content: `Relevant notes:\n${passages.map((p) => `- ${p}`).join("\n")}` }] : [];
    const system = messages.filter((m) => m.role === "system");
    return [...system, ...context, ...history, ...messages.filter((m) => m.role !== "system")];
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const t0 = Date.now();
    checkSampling(req.sampling ?? {});
    const isChat = req.messages !== undefined;
    if (isChat && (req.messages?.length ?? 0) === 0) throw new SovereignError("BAD_REQUEST", "messages must hold at least one message.");
    const entry = this.resolveModel("llm", req.model);
    const messages = isChat ? await this.withMemory(req, req.messages ?? []) : [];
    const grammar = await this.grammarFor(req.sampling);
    const release = await this.opts.queue.acquire(req.signal);
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
        const key = req.conversationId ? `c:${req.conversationId}` : isChat ? `h:${createHash("sha1").update(JSON.stringify(messages.slice(0, 2))).digest("hex")}` : null;
        const run = { sampling: req.sampling ?? {}, grammar, signal: req.signal, onText, key };
        const result = isChat
          ? await engine.chat(messages, run, this.opts.maxTokensDefault)
          : await engine.complete(req.prompt ?? "", run, this.opts.maxTokensDefault);
        const end = Date.now();
        const genMs = firstTokenAt !== null ? end - firstTokenAt : 0;
        const tps = genMs > 0 && result.completionTokens > 1 ? ((result.completionTokens - 1) * 1000) / genMs : null;
        if (tps !== null) this.lastTps = tps;
        this.totals.requests++;
        this.totals.promptTokens += result.promptTokens;
        this.totals.completionTokens += result.completionTokens;
        const out: GenerateResult = {
          model: entry.name, text: result.text, finishReason: result.finishReason, promptTokens: result.promptTokens,
          completionTokens: result.completionTokens, reusedPromptTokens: result.reusedTokens,
          timings: { queuedMs, loadMs, firstTokenMs: firstTokenAt !== null ? firstTokenAt - tRun : null, totalMs: end - t0, tokensPerSecond: tps },
        };
        await this.recordTurn(req, messages, out);
        return out;
      } finally {
        this.returnEngine();
      }
    } finally {
      release();
    }
  }

  private async recordTurn(req: GenerateRequest, messages: ChatMessage[], out: GenerateResult): Promise<void> {
    const store = req.memory && req.conversationId ? this.opts.memory?.() : undefined;
    const user = [...messages].reverse().find((m) => m.role === "user");
    if (!store?.appendTurn || !req.conversationId || !user || out.finishReason === "abort") return;
    await store.appendTurn(req.conversationId, { user, assistant: { role: "assistant", content: out.text }, model: out.model });
  }

  private embedder(entry: ModelEntry): Promise<Embedder> {
    let e = this.embedders.get(entry.name);
    if (!e) {
      const path = this.registry.pathOf(entry);
      e = entry.format === "onnx"
        ? OnnxEmbedder.load(path, { threads: this.opts.embeddingThreads, batchSize: this.opts.embeddingBatchSize })
        : GgufEmbedder.load(path, this.opts.embeddingThreads, this.opts.logger);
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

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.opts.queue.drain(new SovereignError("SHUTTING_DOWN"));
    await this.loading?.catch(() => undefined);
    this.users = 0;
    await this.unload();
  }
}

export function defaultModelsDir(dataDir: string): string {
  return join(dataDir, "models");
}
