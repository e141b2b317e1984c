import { SovereignError } from "../../core/errors/SovereignError.js";
import type { ModelEntry } from "../inference/ModelRegistry.js";
import type { ChatMessage, GenerateRequest, GenerateResult, InferenceApi } from "../inference/types.js";
import type { ChatApi, ChatMemory, ChatRequest, ChatResult } from "./types.js";

/**
 * Where a chat turn runs once it is prepared: this node's inference, or (the
 * offload decision, not wired yet) a federation peer.
 */
export interface ChatTarget {
  /** "local", or the node id of the peer. */
  readonly source: string;
  generate(request: GenerateRequest): Promise<GenerateResult>;
}

export interface ChatServiceOptions {
  inference: Pick<InferenceApi, "resolveModel" | "contextWindow" | "generate">;
  memory: ChatMemory;
  /** Default token budget of retrieved memory context (memory.ragTokenBudget). */
  ragTokenBudget: number;
}

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

  constructor(private readonly opts: ChatServiceOptions) {
    this.local = { source: "local", generate: (r) => opts.inference.generate(r) };
  }

  async complete(req: ChatRequest): Promise<ChatResult> {
    if (req.messages.length === 0) throw new SovereignError("BAD_REQUEST", "messages must hold at least one message.");
    // The model first: with none installed, nothing is read from or written to the conversation.
    const entry = this.opts.inference.resolveModel("llm", req.model);
    const prepared = await this.prepare(req, entry);
    const target = this.pickTarget(req);
    const out = await target.generate({
      model: entry.name,
      messages: [...prepared.system, ...prepared.history, ...prepared.turn],
      // The queue shares generation slots among users (round-robin when requests wait).
      owner: req.userId,
      ...(req.sampling ? { sampling: req.sampling } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
      ...(req.onText ? { onText: req.onText } : {}),
      // One KV slot per stored conversation; its history may be trimmed to fit the context.
      ...(req.conversationId
        ? { slotKey: `c:${req.userId}:${req.conversationId}`, trimmable: { start: prepared.system.length, count: prepared.history.length } }
        : {}),
    });
    const result: ChatResult = { ...out, ...(prepared.citations ? { citations: prepared.citations } : {}) };
    if (req.conversationId) result.conversation = this.record(req, req.conversationId, prepared, out);
    return result;
  }

  /**
   * The offload decision: which target runs this turn. Today always this
   * node's inference. Offload (a core peer with a free slot while this node is
   * busy, services/federation/Offload.ts) plugs in here, behind federation's
   * optional accessor, without the callers changing.
   */
  private pickTarget(_req: ChatRequest): ChatTarget {
    return this.local;
  }

  /** The stored conversation's history and, when asked for, retrieved memory context in the system prompt. */
  private async prepare(req: ChatRequest, entry: ModelEntry): Promise<PreparedChat> {
    const system = req.messages.filter((m) => m.role === "system");
    const turn = req.messages.filter((m) => m.role !== "system");
    const memory = this.opts.memory;
    const history = req.conversationId ? memory.chatHistory(req.userId, req.conversationId) : [];
    let citations: number[] | undefined;
    if (req.memory) {
      const o = typeof req.memory === "object" ? req.memory : {};
      const query = [...turn].reverse().find((m) => m.role === "user")?.content ?? "";
      // The context may take at most a quarter of the window, so the history and the answer keep room.
      const cap = Math.max(1, Math.floor(this.opts.inference.contextWindow(entry) / 4));
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
  private record(req: ChatRequest, conversationId: string, p: PreparedChat, out: GenerateResult): NonNullable<ChatResult["conversation"]> {
    const aborted = out.finishReason === "abort";
    const meta: Record<string, unknown> = {
      model: out.model, finishReason: out.finishReason, promptTokens: out.promptTokens, completionTokens: out.completionTokens,
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
