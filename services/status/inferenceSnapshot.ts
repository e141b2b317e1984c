import type { FastifyInstance } from "fastify";

/** What the dashboard shows about inference; null where no inference service is loaded. */
export interface InferenceSnapshot {
  model: string | null;
  queued: number | null;
  active: number | null;
  slots: number | null;
  tokensPerSecond: number | null;
  totals: { requests: number; promptTokens: number; completionTokens: number } | null;
}

/** The slice of services/inference's `InferenceApi.status()` read here; duck-typed because inference is optional to this plugin. */
interface StatusLike {
  loaded?: { name?: string } | null;
  queue?: { active?: number; waiting?: number; slots?: number };
  lastTokensPerSecond?: number | null;
  totals?: { requests: number; promptTokens: number; completionTokens: number };
}

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);

export function inferenceSnapshot(app: FastifyInstance): InferenceSnapshot | null {
  if (!app.hasDecorator("inference")) return null;
  const inf = (app as unknown as { inference?: { status?: () => StatusLike } }).inference;
  const s = inf?.status?.();
  if (!s) return null;
  return {
    model: s.loaded?.name ?? null,
    queued: num(s.queue?.waiting),
    active: num(s.queue?.active),
    slots: num(s.queue?.slots),
    tokensPerSecond: num(s.lastTokensPerSecond),
    totals: s.totals ?? null,
  };
}
