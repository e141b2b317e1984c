import type { InferenceApi } from "../inference/types.js";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatRequest {
  messages: ChatMessage[];
  model?: string;
  maxTokens?: number;
  temperature?: number;
}

/** What federation needs from this node's inference: capacity for the manifest, and a text stream. */
export interface LocalInference {
  available(): boolean;
  capacity(): { models: string[]; parallel: number; queueDepth: number; freeSlots: number };
  stream(request: ChatRequest, signal: AbortSignal): AsyncIterable<string>;
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
      const done = inf
        .generate({
          ...(request.model ? { model: request.model } : {}),
          messages: request.messages,
          sampling: { ...(request.maxTokens ? { maxTokens: request.maxTokens } : {}), ...(request.temperature !== undefined ? { temperature: request.temperature } : {}) },
          signal,
          onText: (t) => {
            queue.push(t);
            wake?.();
          },
        })
        .then(
          () => undefined,
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
    },
  };
}
