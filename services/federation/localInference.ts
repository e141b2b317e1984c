import type { FinishReason, InferenceApi, SamplingOptions } from "../inference/types.js";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** An offloaded chat request as it travels to a peer (inside a signed "offload-req"). */
export interface ChatRequest {
  messages: ChatMessage[];
  model?: string;
  /** Short form, kept for older senders; `sampling` wins when present. */
  maxTokens?: number;
  temperature?: number;
  /** The whole sampling set the caller asked for (max_tokens already capped by the caller's quota). */
  sampling?: SamplingOptions;
  /** Messages (a stored conversation's history) the peer may leave out, oldest first, to fit its context. */
  trimmable?: { start: number; count: number };
}

/** What the serving node reports when an offloaded generation ends: the sender charges quotas and audits with it. */
export interface OffloadAccount {
  model: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: FinishReason;
}

/** What federation needs from this node's inference: capacity for the manifest, and a text stream that returns its account. */
export interface LocalInference {
  available(): boolean;
  capacity(): { models: string[]; parallel: number; queueDepth: number; freeSlots: number };
  stream(request: ChatRequest, signal: AbortSignal): AsyncGenerator<string, OffloadAccount | undefined>;
}

export const noInference: LocalInference = {
  available: () => false,
  capacity: () => ({ models: [], parallel: 0, queueDepth: 0, freeSlots: 0 }),
  // eslint-disable-next-line require-yield
  async *stream() {
    throw new Error("no local inference");
  },
};

/** The parts of `app.inference` (services/inference/types.ts) a peer's request uses. */
type PeerInference = Pick<InferenceApi, "generate" | "status" | "models">;

/** Adapts `app.inference` to LocalInference: what a peer's offloaded request runs on (plain generation: no user, no stored conversation). */
export function localInferenceFrom(inf: PeerInference): LocalInference {
  const chatModels = () => inf.models().filter((m) => m.kind === "llm").map((m) => m.name);
  return {
    available: () => chatModels().length > 0,
    capacity: () => {
      const q = inf.status().queue;
      return { models: chatModels(), parallel: q.slots, queueDepth: q.waiting, freeSlots: Math.max(0, q.slots - q.active - q.waiting) };
    },
    async *stream(request, signal) {
      // generate() reports text through a callback; turn it into an async stream.
      const queue: string[] = [];
      let wake: (() => void) | undefined;
      let finished = false;
      let failure: unknown;
      let account: OffloadAccount | undefined;
      const done = inf
        .generate({
          ...(request.model ? { model: request.model } : {}),
          messages: request.messages,
          sampling: request.sampling ?? { ...(request.maxTokens ? { maxTokens: request.maxTokens } : {}), ...(request.temperature !== undefined ? { temperature: request.temperature } : {}) },
          ...(request.trimmable ? { trimmable: request.trimmable } : {}),
          signal,
          onText: (t) => {
            queue.push(t);
            wake?.();
          },
        })
        .then(
          (r) => {
            account = { model: r.model, promptTokens: r.promptTokens, completionTokens: r.completionTokens, finishReason: r.finishReason };
          },
          (err: unknown) => {
            failure = err;
          },
        )
        .finally(() => {
          finished = true;
          wake?.();
        });
      for (;;) {
        const t = queue.shift();
        if (t !== undefined) {
          yield t;
          continue;
        }
        if (finished) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      await done;
      if (failure) throw failure;
      return account;
    },
  };
}
