import { SovereignError } from "../../core/errors/SovereignError.js";
import type { ModelEntry } from "../inference/ModelRegistry.js";
import type { ChatMessage, GenerateRequest, GenerateResult, InferenceApi, ToolCallDelta } from "../inference/types.js";
import { peerTarget, type ChatTarget } from "./ChatTarget.js";
import { offloadReason, type OffloadReason } from "./offloadDecision.js";
import type { ChatApi, ChatAuditEvent, ChatMemory, ChatOffload, ChatRequest, ChatResult, OffloadedGeneration } from "./types.js";

export interface ChatServiceOptions {
  inference: Pick<InferenceApi, "resolveModel" | "contextWindow" | "generate" | "status">;
  memory: ChatMemory;
  /** Default token budget of retrieved memory context (memory.ragTokenBudget). */
  ragTokenBudget: number;
  /** Federation's offload, read per turn (it loads after chat and may be off); absent or null: every turn runs here. */
  offload?: () => ChatOffload | null;
  /** Records offloaded turns and failed offloads (app.audit.record). */
  audit?: (e: ChatAuditEvent) => void;
  log?: { warn(obj: object, msg: string): void };
}

/** Errors that mean "this node lacks the model", which a peer that has it can make good. */
const MISSING_MODEL = new Set(["NO_MODEL", "MODEL_NOT_FOUND", "MODEL_QUARANTINED"]);

/** A turn's prompt in parts: the stored history may be shortened (by inference) to fit the context. */
interface PreparedChat {
  system: ChatMessage[];
  history: ChatMessage[];
  /** The request's own (non-system) messages: the new turn. */
  turn: ChatMessage[];
  citations: number[] | undefined;
}

/**
 * `app.chat`: a chat turn from request to record. It puts the stored
 * conversation and retrieved memories (RAG) around the new messages, lets
 * inference generate, and appends the turn and the answer to the conversation
 * with the ids feedback needs. Inference knows nothing of conversations.
 */
export class ChatService implements ChatApi {
  private readonly local: ChatTarget;
  private readonly offloadListeners = new Set<(g: OffloadedGeneration) => void>();

  constructor(private readonly opts: ChatServiceOptions) {
    this.local = { source: "local", generate: (r) => opts.inference.generate(r) };
  }

  onOffloaded(listener: (g: OffloadedGeneration) => void): () => void {
    this.offloadListeners.add(listener);
    return () => this.offloadListeners.delete(listener);
  }

  async complete(req: ChatRequest): Promise<ChatResult> {
    if (req.messages.length === 0) throw new SovereignError("BAD_REQUEST", "messages must hold at least one message.");
    const offload = this.opts.offload?.() ?? null;
    // The model first: with none installed here or on a peer, nothing is read from or written to the conversation.
    let entry: ModelEntry | null = null;
    let missing: unknown;
    try {
      entry = this.opts.inference.resolveModel("llm", req.model);
    } catch (err) {
      if (!offload || !(err instanceof SovereignError && MISSING_MODEL.has(err.code))) throw err;
      missing = err;
    }
    const pick = this.pickTarget(req, entry, offload);
    if (!pick) throw missing;
    const prepared = await this.prepare(req, entry);
    let target = pick.target;
    // Callers learn who answers before the first text: a stream's headers name it.
    let announced = false;
    const announce = () => {
      if (!announced) req.onServedBy?.(target.source);
      announced = true;
    };
    const onText = req.onText;
    const request: GenerateRequest = {
      messages: [...prepared.system, ...prepared.history, ...prepared.turn],
      // The queue shares generation slots among users (round-robin when requests wait).
      owner: req.userId,
      ...(req.sampling ? { sampling: req.sampling } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
      ...(req.tools ? { tools: req.tools } : {}),
      ...(req.onToolCall
        ? {
            onToolCall: (d: ToolCallDelta) => {
              announce();
              req.onToolCall?.(d);
            },
          }
        : {}),
      ...(onText
        ? {
            onText: (t: string) => {
              announce();
              onText(t);
            },
          }
        : {}),
      // One KV slot per stored conversation; its history may be trimmed to fit the context.
      ...(req.conversationId
        ? { slotKey: `c:${req.userId}:${req.conversationId}`, trimmable: { start: prepared.system.length, count: prepared.history.length } }
        : {}),
    };
    const model = entry?.name ?? req.model;
    let out: GenerateResult;
    try {
      out = await target.generate({ ...request, ...(model ? { model } : {}) });
    } catch (err) {
      // A peer that fails before anything reached the caller is replaced by this node, when it can answer.
      if (target === this.local || announced || req.signal?.aborted || !entry) {
        if (target !== this.local) this.offloadFailed(req, target, pick.reason, err, "none");
        throw err;
      }
      this.offloadFailed(req, target, pick.reason, err, "local");
      target = this.local;
      out = await target.generate({ ...request, model: entry.name });
    }
    announce();
    if (target !== this.local) this.offloaded(req, target, pick.reason, out);
    const result: ChatResult = {
      ...out, servedBy: target.source, ...(target.name ? { servedByName: target.name } : {}),
      ...(prepared.citations ? { citations: prepared.citations } : {}),
    };
    if (req.conversationId) result.conversation = this.record(req, req.conversationId, prepared, result);
    return result;
  }

  /**
   * The offload decision: a trusted core peer with a free slot and the model
   * runs the turn when this node is busy (no free slot) or lacks the model;
   * otherwise this node does. Null: this node lacks the model and no peer has it.
   */
  private pickTarget(req: ChatRequest, entry: ModelEntry | null, offload: ChatOffload | null): { target: ChatTarget; reason: OffloadReason | null } | null {
    // A peer's protocol carries no tools: a turn that offers them runs here.
    const tools = req.tools !== undefined && req.tools.choice !== "none" && req.tools.functions.length > 0;
    const reason = offload && !tools ? offloadReason(entry?.name ?? null, this.opts.inference.status().queue) : null;
    if (!offload || !reason) return { target: this.local, reason: null };
    const peer = offload.peerFor(entry?.name ?? req.model);
    if (peer) return { target: peerTarget(offload, peer), reason };
    // Busy and no peer free: wait in this node's queue as before.
    return entry ? { target: this.local, reason: null } : null;
  }

  private offloaded(req: ChatRequest, target: ChatTarget, reason: OffloadReason | null, out: GenerateResult): void {
    this.opts.audit?.({
      type: "chat.offloaded", actor: req.userId, subject: target.source,
      details: {
        peer: target.source, peerName: target.name ?? null, reason, model: out.model, finishReason: out.finishReason,
        promptTokens: out.promptTokens, completionTokens: out.completionTokens, ...(req.conversationId ? { conversationId: req.conversationId } : {}),
      },
    });
    const g: OffloadedGeneration = {
      peer: target.source, model: out.model, promptTokens: out.promptTokens, completionTokens: out.completionTokens,
      firstTokenMs: out.timings.firstTokenMs, totalMs: out.timings.totalMs, tokensPerSecond: out.timings.tokensPerSecond,
    };
    for (const l of this.offloadListeners) {
      try {
        l(g);
      } catch (err) {
        this.opts.log?.warn({ err: (err as Error).message }, "chat: an offload listener failed");
      }
    }
  }

  private offloadFailed(req: ChatRequest, target: ChatTarget, reason: OffloadReason | null, err: unknown, fallback: "local" | "none"): void {
    const code = err instanceof SovereignError ? err.code : "INTERNAL";
    this.opts.log?.warn({ peer: target.source, code, err: (err as Error).message, fallback }, "chat: offloaded turn failed");
    this.opts.audit?.({
      type: "chat.offload_failed", actor: req.userId, subject: target.source,
      details: { peer: target.source, peerName: target.name ?? null, reason, code, fallback },
    });
  }

  /** The stored conversation's history and, when asked for, retrieved memory context in the system prompt. */
  private async prepare(req: ChatRequest, entry: ModelEntry | null): Promise<PreparedChat> {
    const system = req.messages.filter((m) => m.role === "system");
    const turn = req.messages.filter((m) => m.role !== "system");
    const memory = this.opts.memory;
    const history = req.conversationId ? memory.chatHistory(req.userId, req.conversationId) : [];
    let citations: number[] | undefined;
    if (req.memory) {
      const o = typeof req.memory === "object" ? req.memory : {};
      const query = [...turn].reverse().find((m) => m.role === "user")?.content ?? "";
      // The context may take at most a quarter of the window, so the history and the answer keep room (a peer's window is not known here).
      const cap = entry ? Math.max(1, Math.floor(this.opts.inference.contextWindow(entry) / 4)) : Infinity;
      const tokenBudget = Math.min(o.tokenBudget ?? this.opts.ragTokenBudget, cap);
      const ctx = await memory.retrieveContext(query, { userId: req.userId, tokenBudget, limit: o.topK ?? 12 });
      citations = ctx.citations;
      if (ctx.text) {
        const first = system[0];
        if (first) system[0] = { role: "system", content: `${first.content}\n\n${ctx.text}` };
        else system.push({ role: "system", content: ctx.text });
      }
    }
    return { system, history, turn, citations };
  }

  /** Appends the new messages and the answer (an aborted one too, marked) to the stored conversation. */
  private record(req: ChatRequest, conversationId: string, p: PreparedChat, out: ChatResult): NonNullable<ChatResult["conversation"]> {
    const aborted = out.finishReason === "abort";
    const meta: Record<string, unknown> = {
      model: out.model, finishReason: out.finishReason, promptTokens: out.promptTokens, completionTokens: out.completionTokens,
      // The panel shows "answered by <node>" from these.
      ...(out.servedBy !== "local" ? { servedBy: out.servedBy, node: out.servedByName ?? out.servedBy } : {}),
      ...(aborted ? { aborted: true } : {}), ...(p.citations && p.citations.length > 0 ? { citations: p.citations } : {}),
    };
    // An answer aborted before its first token has nothing to keep; the question is kept all the same.
    const answer: ChatMessage | null = aborted && out.text.length === 0 ? null : { role: "assistant", content: out.text };
    const ids = this.opts.memory.recordChatTurn(req.userId, conversationId, { messages: p.turn, answer, meta });
    const turnIds = ids.slice(0, p.turn.length);
    const userIndex = p.turn.map((m) => m.role).lastIndexOf("user");
    return {
      id: conversationId,
      messageIds: ids,
      userMessageId: userIndex >= 0 ? (turnIds[userIndex] ?? null) : null,
      assistantMessageId: ids.length > p.turn.length ? (ids[ids.length - 1] ?? null) : null,
    };
  }
}
