import type { FastifyInstance } from "fastify";

/** What the dashboard shows about inference; null where no inference service is loaded. */
export interface InferenceSnapshot {
  model: string | null;
  queued: number | null;
  active: number | null;
  tokensPerSecond: number | null;
}

/** Reads the inference service's stats when that service is present (it is optional to this plugin). */
export function inferenceSnapshot(app: FastifyInstance): InferenceSnapshot | null {
  if (!app.hasDecorator("inference")) return null;
  const inf = (app as unknown as { inference?: { stats?: () => Record<string, unknown> } }).inference;
  const s = inf?.stats?.();
  if (!s) return null;
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  return {
    model: typeof s.model === "string" ? s.model : null,
    queued: num(s.queued ?? s.queueLength),
    active: num(s.active),
    tokensPerSecond: num(s.tokensPerSecond),
  };
}
