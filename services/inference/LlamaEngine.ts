import {
  getLlama, InputLookupTokenPredictor, LlamaChat, LlamaCompletion, LlamaLogLevel, LlamaText, NoBinaryFoundError, resolveChatWrapper, TokenBias,
  type ChatHistoryItem, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaGrammar, type LlamaModel,
} from "node-llama-cpp";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { checkLlamaLocalBuild, skipLocalBuildOptions } from "../../hardware/llamaLocalBuild.js";
import type { ChatMessage, FinishReason } from "./types.js";
import type { EngineLogger, EngineRun, EngineSettings, EngineStats, GrammarSpec, InferenceEngine, RunOptions } from "./InferenceEngine.js";
import { checkJsonSchema, toGrammarSchema } from "./checkJsonSchema.js";
import { StopWatcher } from "./StopWatcher.js";
import { applyPhaseThreads, type PhaseThreadStats } from "./phaseThreads.js";
import { gatherBatches, type BatchGatherer, type GatherStats } from "./gatherBatches.js";
import { ThreadAdapter } from "./threadAdapter.js";
import { TokenCounter } from "./tokenCounter.js";
import { prepareToolRun, toChatHistory as toHistory, toolCallFailure } from "./toolCalling.js";

export type { EngineLogger, EngineRun, EngineSettings, RunOptions } from "./InferenceEngine.js";

const llamaPromises = new Map<"cuda" | "vulkan" | false, Promise<Llama>>();
/** Why a loaded binding is the prebuilt though a local build is installed (checkLlamaLocalBuild). */
const localBuildRefusals = new WeakMap<Llama, string>();

/**
 * The llama.cpp binding of this process, from node-llama-cpp's prebuilt
 * binaries or a build made when the image was built (the Jetson's CUDA
 * runner): no source build and no download at run time. `gpu` is what tune()
 * found loads here (tuning.gpuBackend); a process normally loads one.
 */
export function loadLlama(logger?: EngineLogger, gpu: "cuda" | "vulkan" | false = false): Promise<Llama> {
  const cached = llamaPromises.get(gpu);
  if (cached) return cached;
  const local = checkLlamaLocalBuild(gpu);
  if (local.refusal !== null) logger?.warn({ localBuild: local.dir }, `not loading the local llama.cpp build: ${local.refusal}; running node-llama-cpp's prebuilt`);
  const llamaPromise = getLlama({
    gpu, build: "never", skipDownload: true, progressLogs: false, logLevel: LlamaLogLevel.warn, ...skipLocalBuildOptions(local),
    logger: (level, message) => {
      if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal || level === LlamaLogLevel.warn) logger?.warn({ llama: level }, message.trim());
    },
  }).catch((err: unknown) => {
    llamaPromises.delete(gpu);
    const platform = `${process.platform}-${process.arch}${gpu ? ` with ${gpu}` : ""}`;
    if (err instanceof NoBinaryFoundError)
      throw new SovereignError("ENGINE_UNAVAILABLE", `No prebuilt llama.cpp binary fits this platform (${platform}).`, { cause: err, hint: "Install node-llama-cpp's prebuilt package for this platform, or build it when the image is built." });
    throw new SovereignError("ENGINE_UNAVAILABLE", `llama.cpp could not start on ${platform}: ${(err as Error).message}`, { cause: err });
  });
  if (local.refusal !== null) {
    const refusal = local.refusal;
    void llamaPromise.then((llama) => localBuildRefusals.set(llama, refusal), () => undefined);
  }
  llamaPromises.set(gpu, llamaPromise);
  return llamaPromise;
}

/**
 * With one sequence there is nothing to batch together, so a token's decode
 * starts at once instead of after node-llama-cpp's default `setImmediate`
 * ("nextCycle"), which waits behind every pending I/O callback of the HTTP
 * server. With several sequences the default stays: it lets tokens of
 * parallel generations arriving in the same tick share one decode.
 */
function dispatchNow(dispatch: () => void): void {
  dispatch();
}

/**
 * Tokens generated, as summed from onToken chunks. node-llama-cpp stops at
 * maxTokens itself, yet under heavy load a run was seen reporting one chunk
 * more than that (3 for max_tokens 2, not reproduced on a quiet machine), so
 * usage never claims more than the cap the engine enforced.
 */
function counted(fromCallbacks: number, maxTokens: number): number {
  return Math.min(fromCallbacks, maxTokens);
}

/** A sequence of the context with the conversation whose KV cache it holds. */
interface Slot {
  sequence: LlamaContextSequence;
  chat: LlamaChat;
  completion: LlamaCompletion;
  key: string | null;
  busy: boolean;
  lastUsed: number;
}

/** Grammars built for JSON output, per schema, shared by the engines of this process (at most 32 kept). */
const grammars = new Map<string, Promise<LlamaGrammar>>();

/** The grammar for a spec, built by this process's llama.cpp binding; INVALID_JSON_SCHEMA when it cannot be built. */
export async function grammarFor(llama: Llama, spec: GrammarSpec | undefined): Promise<LlamaGrammar | undefined> {
  if (!spec?.jsonSchema && !spec?.json) return undefined;
  if (spec.jsonSchema) checkJsonSchema(spec.jsonSchema);
  const key = spec.jsonSchema ? JSON.stringify(spec.jsonSchema) : "json";
  let grammar = grammars.get(key);
  if (!grammar) {
    grammar = (spec.jsonSchema
      ? llama.createGrammarForJsonSchema(toGrammarSchema(spec.jsonSchema) as Parameters<typeof llama.createGrammarForJsonSchema>[0])
      : jsonGrammar(llama)
    ).catch((err: unknown) => {
      grammars.delete(key);
      throw new SovereignError("INVALID_JSON_SCHEMA", `The JSON schema cannot be turned into a grammar: ${(err as Error).message}`, { cause: err });
    });
    if (grammars.size >= 32) grammars.delete(grammars.keys().next().value as string);
    grammars.set(key, grammar);
  }
  return grammar;
}

/**
 * Any JSON value, from the json.gbnf node-llama-cpp ships with its prebuilt binaries, with the settings its
 * getGrammarFor("json") uses. getGrammarFor itself looks for the grammars in a cloned llama.cpp tree when the
 * binary is a local build (scripts/build-llama-addon.sh builds from a clone kept outside node_modules), and
 * failed there with "Grammars folder not found".
 */
async function jsonGrammar(llama: Llama): Promise<LlamaGrammar> {
  const file = join(dirname(fileURLToPath(import.meta.resolve("node-llama-cpp"))), "..", "llama", "grammars", "json.gbnf");
  const grammar = await readFile(file, "utf8").catch(() => null);
  if (grammar === null) return llama.getGrammarFor("json");
  return llama.createGrammar({ grammar, stopGenerationTriggers: [LlamaText(["\n".repeat(4)])], trimWhitespaceSuffix: true });
}

/** The history with the answer's (empty) opening, unless it ends with a model turn the answer continues (after tool results). */
function withAnswer(history: ChatHistoryItem[]): ChatHistoryItem[] {
  return endsWithToolCalls(history) ? history : [...history, { type: "model", response: [] }];
}

function endsWithToolCalls(history: ChatHistoryItem[]): boolean {
  const last = history[history.length - 1];
  return last?.type === "model" && last.response.some((r) => typeof r === "object" && r.type === "functionCall");
}

function finish(stopReason: string): FinishReason {
  if (stopReason === "maxTokens") return "length";
  if (stopReason === "abort") return "abort";
  return "stop";
}

/**
 * The native addon behind one typed adapter: one loaded GGUF model, one
 * context with a sequence per parallel slot, and an explicit dispose().
 * Each slot remembers which conversation its KV cache holds, so a follow-up
 * turn re-evaluates only the new tokens (node-llama-cpp keeps the common prefix).
 */
export class LlamaEngine implements InferenceEngine {
  private readonly slots: Slot[];
  private disposed = false;
  /** Makes the parallel sequences' decode steps land in one batch (see gatherBatches); null with one sequence. */
  private gatherer: BatchGatherer | null = null;
  /** Decodes per phase and generation steps per thread count (null when node-llama-cpp's native context lacks the hooks). */
  private phase: PhaseThreadStats | null = null;

  private constructor(
    readonly name: string,
    readonly llama: Llama,
    readonly model: LlamaModel,
    readonly context: LlamaContext,
    readonly settings: EngineSettings,
  ) {
    this.slots = [];
    // Resolved once for all slots: for a model with a Jinja template it renders the template against every built-in
    // wrapper (1-2 s of synchronous work on a busy 2-core machine), and the runner's heartbeat waits meanwhile.
    const chatWrapper = resolveChatWrapper(model);
    for (let i = 0; i < settings.sequences; i++) {
      // Prompt-lookup speculation: drafts the next tokens from where the output repeats the prompt; llama.cpp verifies them in one batch.
      const sequence = context.getSequence(settings.speculative ? { tokenPredictor: new InputLookupTokenPredictor() } : {});
      this.slots.push({
        sequence,
        chat: new LlamaChat({ contextSequence: sequence, chatWrapper, autoDisposeSequence: false }),
        completion: new LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false }),
        key: null, busy: false, lastUsed: 0,
      });
    }
  }

  static async load(name: string, path: string, settings: EngineSettings, logger?: EngineLogger): Promise<LlamaEngine> {
    const gpu = settings.gpu ?? false;
    const llama = await loadLlama(logger, gpu);
    // node-llama-cpp's default (max(4, cores)) oversubscribes small machines: always set it.
    llama.maxThreads = settings.threads;
    let model: LlamaModel | undefined;
    try {
      // Layers go to a GPU only through a GPU build; on the CPU build the count means nothing.
      model = await llama.loadModel({ modelPath: path, gpuLayers: gpu ? settings.gpuLayers : 0, useMmap: true });
      const contextSize = Math.min(settings.contextSize, model.trainContextSize);
      const context = await model.createContext({
        contextSize, sequences: settings.sequences, batchSize: Math.min(settings.batchSize, contextSize), threads: settings.threads,
        ...(settings.sequences === 1 ? { batching: { dispatchSchedule: dispatchNow } } : {}),
      });
      const prompt = settings.promptThreads ?? settings.threads;
      const generation = settings.generationThreads ?? settings.threads;
      // Generation starts at tune()'s (safe) count and moves between it and the prompt count by its own timings:
      // up while the higher count is faster, down when a competing process stalls it (ThreadAdapter); off: it stays there.
      const adapter = prompt > generation && settings.threadAdapter !== false ? new ThreadAdapter({ low: generation, high: prompt }) : undefined;
      // Installed with one count too: its decode counts and times are the engine's stats.
      const phase = applyPhaseThreads(context, { prompt, generation }, settings.sequences, adapter);
      if (prompt !== generation && !phase)
        logger?.warn({ prompt, generation, threads: settings.threads }, "node-llama-cpp's native context lacks the hooks for per-phase threads: both phases run at one count");
      const engine = new LlamaEngine(name, llama, model, context, { ...settings, contextSize });
      engine.phase = phase;
      if (settings.sequences > 1) {
        engine.gatherer = gatherBatches(context, settings.sequences);
        if (!engine.gatherer) logger?.warn({ sequences: settings.sequences }, "node-llama-cpp's context lacks the hooks for gathering parallel decode steps: they batch as they come");
      }
      return engine;
    } catch (err) {
      await model?.dispose();
      if (err instanceof SovereignError) throw err;
      throw new SovereignError("MODEL_LOAD_FAILED", `llama.cpp could not load "${name}": ${(err as Error).message}`, { cause: err });
    }
  }

  get contextSize(): number {
    return this.settings.contextSize;
  }

  async tokenCount(text: string): Promise<number> {
    return this.model.tokenize(text).length;
  }

  /** Tokens of a chat prompt as the model's chat template renders it (with the answer's opening). */
  async chatPromptTokens(messages: readonly ChatMessage[]): Promise<number> {
    const slot = this.slots[0];
    if (!slot) return 0;
    const { contextText } = slot.chat.chatWrapper.generateContextState({ chatHistory: withAnswer(toHistory(messages)) });
    return contextText.tokenize(this.model.tokenizer).length;
  }

  /** Picks a free slot: the one holding this conversation, else the least recently used. */
  private takeSlot(key: string | null | undefined): Slot {
    const free = this.slots.filter((s) => !s.busy);
    const slot = (key ? free.find((s) => s.key === key) : undefined) ?? free.sort((a, b) => a.lastUsed - b.lastUsed)[0];
    if (!slot) throw new SovereignError("INTERNAL", "No free sequence although the queue granted a slot.");
    slot.busy = true;
    slot.key = key ?? null;
    this.gatherer?.begin(slot.sequence);
    return slot;
  }

  private release(slot: Slot): void {
    this.gatherer?.end(slot.sequence);
    slot.busy = false;
    slot.lastUsed = Date.now();
  }

  private budget(promptTokens: number, maxTokens: number | undefined, fallback: number): number {
    const room = this.contextSize - promptTokens - 1;
    if (room < 1)
      throw new SovereignError("CONTEXT_LENGTH_EXCEEDED", `The prompt is ${promptTokens} tokens; this model's context holds ${this.contextSize}.`, { details: { promptTokens, contextSize: this.contextSize } });
    if (maxTokens !== undefined && maxTokens > room)
      throw new SovereignError("CONTEXT_LENGTH_EXCEEDED", `The prompt (${promptTokens} tokens) plus max_tokens (${maxTokens}) exceeds the context of ${this.contextSize}.`, { details: { promptTokens, maxTokens, contextSize: this.contextSize } });
    return maxTokens ?? Math.min(fallback, room);
  }

  async chat(messages: readonly ChatMessage[], options: RunOptions, defaultMaxTokens: number): Promise<EngineRun> {
    const history = toHistory(messages);
    const grammar = await grammarFor(this.llama, options.grammar);
    // Tools (function calling): a call comes back to the caller, never run here.
    const tools = options.tools && options.tools.functions.length > 0 ? options.tools : undefined;
    const slot = this.takeSlot(options.key);
    try {
      const toolRun = tools ? prepareToolRun(this.name, slot.chat, slot.sequence, tools, options.onToolCall) : null;
      try {
        const chat = toolRun?.chat ?? slot.chat;
        const { contextText } = chat.chatWrapper.generateContextState({
          chatHistory: withAnswer(history), ...(toolRun ? { availableFunctions: toolRun.documented, documentFunctionParams: true } : {}),
        });
        const promptTokens = contextText.tokenize(this.model.tokenizer);
        const maxTokens = this.budget(promptTokens.length, options.sampling.maxTokens, defaultMaxTokens);
        const reusedTokens = slot.sequence.compareContextTokens(promptTokens).firstDifferentIndex;
        const counter = new TokenCounter();
        // Tokens of a function call reach no onToken callback: with tools, the sequence's meter counts what was generated.
        const outputBefore = slot.sequence.tokenMeter.usedOutputTokens;
        const watch = this.watch(options);
        // A grammar and functions never come together (the API refuses response_format with tools), as node-llama-cpp requires.
        const res = await chat.generateResponse(history, {
          ...this.sampling(options, maxTokens, grammar),
          ...watch.options,
          ...toolRun?.options,
          onToken: counter.onToken,
        } as Parameters<LlamaChat["generateResponse"]>[1]);
        const calls = toolRun && res.functionCalls && res.functionCalls.length > 0 ? toolRun.calls(res.functionCalls) : null;
        const completionTokens = toolRun ? Math.max(counter.count, slot.sequence.tokenMeter.usedOutputTokens - outputBefore) : counter.count;
        const run = {
          ...watch.result(res.response, res.metadata.stopReason), promptTokens: promptTokens.length, completionTokens: counted(completionTokens, maxTokens), reusedTokens,
          firstToLastMs: counter.firstToLastMs,
        };
        // Calls completed before max_tokens (or an abort) are returned too, under that finish reason.
        return calls ? { ...run, finishReason: run.finishReason === "stop" ? "tool_calls" : run.finishReason, toolCalls: calls } : run;
      } catch (err) {
        throw toolRun ? toolCallFailure(this.name, err) : err;
      } finally {
        toolRun?.dispose();
      }
    } finally {
      this.release(slot);
    }
  }

  async complete(prompt: string, options: RunOptions, defaultMaxTokens: number): Promise<EngineRun> {
    const grammar = await grammarFor(this.llama, options.grammar);
    const slot = this.takeSlot(options.key);
    try {
      const tokens = this.model.tokenize(prompt);
      const promptTokens = tokens.length + (this.model.tokens.bos !== null ? 1 : 0);
      const maxTokens = this.budget(promptTokens, options.sampling.maxTokens, defaultMaxTokens);
      const counter = new TokenCounter();
      const watch = this.watch(options);
      const res = await slot.completion.generateCompletionWithMeta(prompt, {
        ...this.sampling(options, maxTokens, grammar),
        ...watch.options,
        onToken: counter.onToken,
      });
      return {
        ...watch.result(res.response, res.metadata.stopReason), promptTokens, completionTokens: counted(counter.count, maxTokens), reusedTokens: 0,
        firstToLastMs: counter.firstToLastMs,
      };
    } finally {
      this.release(slot);
    }
  }

  /**
   * Stop strings and json_object's end are watched on the streamed text (see
   * StopWatcher), ending the run through an abort signal of its own; without
   * either, the text goes straight to the caller.
   */
  private watch(options: RunOptions) {
    const stops = options.sampling.stop ?? [];
    const jsonObject = options.grammar?.json === true && !options.grammar.jsonSchema;
    if (stops.length === 0 && !jsonObject) {
      return {
        options: { ...(options.onText ? { onTextChunk: options.onText } : {}), ...(options.signal ? { signal: options.signal, stopOnAbortSignal: true } : {}) },
        result: (text: string, stopReason: string) => ({ text, finishReason: finish(stopReason) }),
      };
    }
    const ac = new AbortController();
    const outer = options.signal;
    if (outer?.aborted) ac.abort(outer.reason);
    else outer?.addEventListener("abort", () => ac.abort(outer.reason), { once: true });
    const watcher = new StopWatcher(stops, jsonObject, options.onText, () => ac.abort());
    return {
      options: { onTextChunk: (t: string) => watcher.push(t), signal: ac.signal, stopOnAbortSignal: true },
      result: (text: string, stopReason: string) => {
        const watched = watcher.finish();
        return watcher.matched ? { text: watched, finishReason: "stop" as const } : { text, finishReason: finish(stopReason) };
      },
    };
  }

  private sampling(options: RunOptions, maxTokens: number, grammar: LlamaGrammar | undefined) {
    const s = options.sampling;
    const penalties = s.repeatPenalty !== undefined || s.frequencyPenalty !== undefined || s.presencePenalty !== undefined || s.repeatLastN !== undefined;
    return {
      maxTokens,
      temperature: s.temperature ?? 1,
      ...(s.topP !== undefined ? { topP: s.topP } : {}),
      ...(s.topK !== undefined ? { topK: s.topK } : {}),
      ...(s.minP !== undefined ? { minP: s.minP } : {}),
      ...(s.seed !== undefined ? { seed: s.seed } : {}),
      ...(penalties ? {
        repeatPenalty: {
          ...(s.repeatPenalty !== undefined ? { penalty: s.repeatPenalty } : {}),
          ...(s.frequencyPenalty !== undefined ? { frequencyPenalty: s.frequencyPenalty } : {}),
          ...(s.presencePenalty !== undefined ? { presencePenalty: s.presencePenalty } : {}),
          lastTokens: s.repeatLastN ?? 64,
        },
      } : {}),
      ...(s.logitBias ? { tokenBias: this.tokenBias(s.logitBias) } : {}),
      ...(grammar ? { grammar } : {}),
    };
  }

  /** OpenAI's logit_bias (token id → −100…100 added to the logit); −100 bans the token, as OpenAI documents. */
  private tokenBias(logitBias: Record<string, number>): TokenBias {
    const vocab = (this.model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: readonly unknown[] } } }).tokenizer?.ggml?.tokens?.length;
    const bias = TokenBias.for(this.model);
    for (const [key, value] of Object.entries(logitBias)) {
      const id = Number(key);
      if (vocab !== undefined && id >= vocab)
        throw new SovereignError("INVALID_SAMPLING", `logit_bias: token ${id} is not in this model's vocabulary of ${vocab} tokens.`, { details: { param: "logit_bias", actual: id } });
      bias.set(id as Parameters<TokenBias["set"]>[0], value <= -100 ? "never" : { logit: value });
    }
    return bias;
  }

  /** How the parallel sequences' decode steps were batched (null with one sequence). */
  get batchStats(): GatherStats | null {
    return this.gatherer?.stats ?? null;
  }

  /** How decodes ran per phase and thread count (null when node-llama-cpp's native context lacks the hooks). */
  get threadStats(): PhaseThreadStats | null {
    return this.phase;
  }

  /** Copies of batchStats and threadStats (the counters go on changing). */
  async stats(): Promise<EngineStats> {
    return { batching: this.gatherer ? structuredClone(this.gatherer.stats) : null, threads: this.phase ? structuredClone(this.phase) : null, binary: this.llama.buildType, localBuildRefused: localBuildRefusals.get(this.llama) ?? null };
  }

  get busySlots(): number {
    return this.slots.filter((s) => s.busy).length;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.slots) {
      s.chat.dispose();
      s.completion.dispose();
    }
    await this.context.dispose();
    await this.model.dispose();
  }
}
