import type { InferenceApi } from "../inference/types.js";

/** What the dashboard shows about inference. */
export interface InferenceSnapshot {
  model: string | null;
  queued: number;
  active: number;
  slots: number;
  tokensPerSecond: number | null;
  totals: { requests: number; promptTokens: number; completionTokens: number };
}

export function inferenceSnapshot(inference: Pick<InferenceApi, "status">): InferenceSnapshot {
  const s = inference.status();
  return {
    model: s.loaded?.name ?? null,
    queued: s.queue.waiting,
    active: s.queue.active,
    slots: s.queue.slots,
    tokensPerSecond: s.lastTokensPerSecond,
    totals: s.totals,
  };
}
