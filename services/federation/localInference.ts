import type { FastifyInstance } from "fastify";

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

/** The parts of the inference service's API (services/inference/types.ts) we use; duck-typed, it is a separate service. */
interface InferenceLike {
  generate(request: {
    model?: string;
    messages?: ChatMessage[];
    sampling?: { maxTokens?: number; temperature?: number };
    signal?: AbortSignal;
    onText?: (text: string) => void;
  }): Promise<unknown>;
  status(): { loaded: { name: string } | null; queue: { active: number; waiting: number; slots: number } };
  models?(): Array<{ name: string; kind?: string }>;
}

/** Adapts `app.inference` (when that service is loaded) to LocalInference. */
export function inferenceFromApp(app: FastifyInstance): LocalInference {
  if (!app.hasDecorator("inference")) return noInference;
  const inf = (app as unknown as { inference: InferenceLike }).inference;
  if (typeof inf?.generate !== "function" || typeof inf.status !== "function") return noInference;
  const chatModels = () => (inf.models?.() ?? []).filter((m) => !m.kind || m.kind === "chat" || m.kind === "llm").map((m) => m.name);
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
