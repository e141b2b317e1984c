import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { breakers } from "../../core/circuitBreaker.js";
import { federationOf } from "../federation/federationOf.js";
import type { GenerateResult } from "../inference/types.js";

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
/** Exposes a running total kept by another service as a counter (after the counter was reset for this scrape). */
function setTotal(c: Counter, labels: Record<string, string>, v: unknown): void {
  const n = num(v);
  if (n !== null && n >= 0) c.inc(labels, n);
}

/** What a generation reports when it ends; every field optional so partial runs still count. */
export interface GenerationObservation {
  model?: string;
  promptTokens?: number;
  promptMs?: number;
  generatedTokens?: number;
  generationMs?: number;
  ttftMs?: number;
  /** Generation speed after the first token; else generatedTokens / generationMs. */
  tokensPerSecond?: number;
  /** "local" (this node's inference, the default) or "peer" (a chat turn a federation peer generated). */
  servedBy?: "local" | "peer";
}

/** A generation on this node as metrics see it: time to first token counts from the request's arrival (queue and model load included). */
export function observationOf(r: GenerateResult): GenerationObservation {
  const t = r.timings;
  const ttftMs = t.firstTokenMs !== null ? t.queuedMs + t.loadMs + t.firstTokenMs : undefined;
  return {
    model: r.model, promptTokens: r.promptTokens, generatedTokens: r.completionTokens, servedBy: "local",
    ...(ttftMs !== undefined ? { ttftMs, generationMs: Math.max(0, t.totalMs - ttftMs) } : {}),
    ...(t.firstTokenMs ? { promptMs: t.firstTokenMs } : {}),
    ...(t.tokensPerSecond !== null ? { tokensPerSecond: t.tokensPerSecond } : {}),
  };
}

/** Metrics the other services feed or that are read from them at scrape time. */
export class ServiceMetrics {
  private readonly modelLoaded: Gauge;
  private readonly queueDepth: Gauge;
  private readonly activeGenerations: Gauge;
  private readonly slots: Gauge;
  private readonly rejections: Counter;
  private readonly promptTps: Gauge;
  private readonly generationTps: Gauge;
  private readonly ttft: Histogram;
  private readonly tokenRate: Histogram;
  private readonly promptTokens: Counter;
  private readonly generatedTokens: Counter;
  private readonly requests: Counter;
  private totalsFromService = false;
  private readonly jobRuns: Counter;
  private readonly jobFailures: Counter;
  private readonly jobDuration: Histogram;
  private readonly jobRunning: Gauge;
  private readonly peersByTier: Gauge;
  private readonly packets: Counter;
  private readonly drops: Counter;
  private readonly circuitState: Gauge;
  private readonly circuitRejections: Counter;

  constructor(private readonly app: FastifyInstance, registry: Registry) {
    const r = [registry];
    this.modelLoaded = new Gauge({ name: "sovereign_inference_model_loaded", help: "1 for the model loaded now (label model), absent when none is.", labelNames: ["model"], registers: r });
    this.queueDepth = new Gauge({ name: "sovereign_inference_queue_depth", help: "Generation requests waiting for a slot.", registers: r });
    this.activeGenerations = new Gauge({ name: "sovereign_inference_active_generations", help: "Generations running now.", registers: r });
    this.slots = new Gauge({ name: "sovereign_inference_slots", help: "Generations that may run at once (parallel sequences).", registers: r });
    this.rejections = new Counter({ name: "sovereign_inference_rejections_total", help: "Generation requests refused since start, by reason (queue_full, queue_timeout).", labelNames: ["reason"], registers: r });
    this.promptTps = new Gauge({ name: "sovereign_inference_prompt_tokens_per_second", help: "Prompt-processing speed of the latest generation.", registers: r });
    this.generationTps = new Gauge({ name: "sovereign_inference_generation_tokens_per_second", help: "Token-generation speed of the latest generation.", registers: r });
    this.ttft = new Histogram({
      name: "sovereign_inference_time_to_first_token_seconds", help: "Time from accepting a generation to its first token, by where it ran (served_by: local, peer).",
      labelNames: ["served_by"], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60], registers: r,
    });
    this.tokenRate = new Histogram({
      name: "sovereign_inference_generation_rate_tokens_per_second", help: "Token-generation speed of each generation after its first token, by where it ran (served_by: local, peer).",
      labelNames: ["served_by"], buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000], registers: r,
    });
    this.promptTokens = new Counter({ name: "sovereign_inference_prompt_tokens_total", help: "Prompt tokens processed.", registers: r });
    this.generatedTokens = new Counter({ name: "sovereign_inference_generated_tokens_total", help: "Tokens generated.", registers: r });
    this.requests = new Counter({ name: "sovereign_inference_requests_total", help: "Generation requests finished.", registers: r });
    this.jobRuns = new Counter({ name: "sovereign_job_runs_total", help: "Scheduled job runs finished, by job and outcome.", labelNames: ["job_name", "outcome"], registers: r });
    this.jobFailures = new Counter({ name: "sovereign_job_failures_total", help: "Scheduled job runs that did not succeed, by job.", labelNames: ["job_name"], registers: r });
    this.jobDuration = new Histogram({ name: "sovereign_job_duration_seconds", help: "How long scheduled job runs took, by job.", labelNames: ["job_name"], buckets: [0.1, 1, 5, 15, 60, 300, 900, 3600], registers: r });
    this.jobRunning = new Gauge({ name: "sovereign_job_running", help: "1 while the job runs.", labelNames: ["job_name"], registers: r });
    this.peersByTier = new Gauge({ name: "sovereign_federation_peers", help: "Known peers by trust tier.", labelNames: ["tier"], registers: r });
    this.packets = new Counter({ name: "sovereign_federation_packets_total", help: "Knowledge packets since start, by direction (in, out).", labelNames: ["direction"], registers: r });
    this.drops = new Counter({ name: "sovereign_federation_dropped_packets_total", help: "Packets dropped since start, by reason.", labelNames: ["reason"], registers: r });
    this.circuitState = new Gauge({ name: "sovereign_circuit_state", help: "Outbound circuit breakers: 0 closed, 1 half-open, 2 open.", labelNames: ["name"], registers: r });
    this.circuitRejections = new Counter({ name: "sovereign_circuit_rejections_total", help: "Calls an open circuit refused since start.", labelNames: ["name"], registers: r });
  }

  /** Subscribes to services that push: every generation on this node (inference), every turn a peer generated (chat), the scheduler's finished runs. */
  attach(): void {
    this.app.inference.onGenerated((r) => this.observeGeneration(observationOf(r)));
    this.app.chat.onOffloaded((g) =>
      this.observeGeneration({
        servedBy: "peer", model: g.model,
        ...(g.firstTokenMs !== null ? { ttftMs: g.firstTokenMs } : {}), ...(g.tokensPerSecond !== null ? { tokensPerSecond: g.tokensPerSecond } : {}),
      }));
    this.app.scheduler.onRunFinished((run) => {
      const job = run.job;
      const outcome = run.outcome;
      this.jobRuns.inc({ job_name: job, outcome });
      if (outcome !== "ok" && outcome !== "skipped") this.jobFailures.inc({ job_name: job });
      const start = Date.parse(run.startedAt);
      const end = Date.parse(String(run.endedAt));
      if (Number.isFinite(start) && Number.isFinite(end)) this.jobDuration.observe({ job_name: job }, Math.max(0, end - start) / 1000);
    });
  }

  observeGeneration(o: GenerationObservation): void {
    const labels = { served_by: o.servedBy ?? "local" };
    if (o.ttftMs !== undefined && o.ttftMs >= 0) this.ttft.observe(labels, o.ttftMs / 1000);
    const tps = o.tokensPerSecond ?? (o.generatedTokens && o.generationMs ? o.generatedTokens / (o.generationMs / 1000) : undefined);
    if (tps !== undefined && Number.isFinite(tps) && tps > 0) this.tokenRate.observe(labels, tps);
    // The counters and gauges below are this node's own inference.
    if (labels.served_by !== "local") return;
    if (!this.totalsFromService) {
      if (o.promptTokens) this.promptTokens.inc(o.promptTokens);
      if (o.generatedTokens) this.generatedTokens.inc(o.generatedTokens);
    }
    if (o.promptTokens && o.promptMs) this.promptTps.set(o.promptTokens / (o.promptMs / 1000));
    if (o.generatedTokens && o.generationMs) this.generationTps.set(o.generatedTokens / (o.generationMs / 1000));
  }

  /** Reads the pull-style sources; called before each scrape. */
  refresh(): void {
    this.refreshInference();
    this.refreshJobs();
    this.refreshFederation();
    this.circuitState.reset();
    this.circuitRejections.reset();
    for (const b of breakers.snapshot()) {
      this.circuitState.set({ name: b.name }, b.state === "closed" ? 0 : b.state === "half-open" ? 1 : 2);
      setTotal(this.circuitRejections, { name: b.name }, b.rejections);
    }
  }

  private refreshInference(): void {
    const s = this.app.inference.status();
    this.modelLoaded.reset();
    if (s.loaded) this.modelLoaded.set({ model: s.loaded.name }, 1);
    const q = s.queue;
    this.queueDepth.set(q.waiting);
    this.activeGenerations.set(q.active);
    this.slots.set(q.slots);
    this.rejections.reset();
    setTotal(this.rejections, { reason: "queue_full" }, q.rejected);
    setTotal(this.rejections, { reason: "queue_timeout" }, q.timedOut);
    if (s.lastTokensPerSecond !== null) this.generationTps.set(s.lastTokensPerSecond);
    // Running totals kept by the service win over pushed observations, so nothing is counted twice.
    this.totalsFromService = true;
    this.requests.reset();
    setTotal(this.requests, {}, s.totals.requests);
    this.promptTokens.reset();
    setTotal(this.promptTokens, {}, s.totals.promptTokens);
    this.generatedTokens.reset();
    setTotal(this.generatedTokens, {}, s.totals.completionTokens);
  }

  private refreshJobs(): void {
    this.jobRunning.reset();
    for (const j of this.app.scheduler.list()) this.jobRunning.set({ job_name: j.name }, j.running ? 1 : 0);
  }

  /** Federation is optional: no federation metrics while it is off. */
  private refreshFederation(): void {
    const s = federationOf(this.app)?.stats();
    if (!s) return;
    this.peersByTier.reset();
    for (const [tier, n] of Object.entries(s.peersByTier)) this.peersByTier.set({ tier }, n);
    this.packets.reset();
    setTotal(this.packets, { direction: "in" }, s.packetsIn);
    setTotal(this.packets, { direction: "out" }, s.packetsOut);
    this.drops.reset();
    for (const [reason, n] of Object.entries(s.drops)) setTotal(this.drops, { reason }, n);
  }
}
