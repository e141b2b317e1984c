import { randomUUID, type KeyObject } from "node:crypto";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { CircuitBreaker } from "../../core/circuitBreaker.js";
import type { FederationCounters } from "./FederationStats.js";
import type { ChatRequest, LocalInference } from "./localInference.js";
import type { Manifest } from "./Manifest.js";
import { sealMessage } from "./messages.js";

export interface OffloadPeer {
  nodeId: string;
  online: boolean;
  manifest: Manifest | null;
}

export interface OffloadOptions {
  nodeId: string;
  key: KeyObject;
  counters: FederationCounters;
  firstTokenTimeoutMs: number;
  idleTimeoutMs: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
  corePeers: () => OffloadPeer[];
  local: () => LocalInference;
  send: (peer: string, payload: string) => boolean;
  log: { warn: (obj: object, msg: string) => void };
}

export interface OffloadChunk {
  text: string;
  /** Where it was generated: a peer's node id, or "local". */
  source: string;
}

/** "auto": offload only when this node has no free slot; "peer": whenever a peer can; "local": never. */
export type OffloadPreference = "auto" | "peer" | "local";

interface Pending {
  peer: string;
  push: (item: { text?: string; done?: boolean; error?: SovereignError }) => void;
}

/**
 * Inference offload: load-aware choice of a core peer (free slots announced
 * in its manifest, minus what we already sent it), a circuit breaker per peer,
 * streaming chunks back over the peer's inbox, and a local fallback when the
 * peer fails before its first token. A failure after tokens have streamed is
 * a clear error (FED_OFFLOAD_PEER_LOST / _TIMEOUT), never a hang: a peer's
 * last will, an idle timer and the first-token timer all end the wait.
 */
export class Offload {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly pending = new Map<string, Pending>();
  private readonly sentTo = new Map<string, number>();
  private readonly serving = new Map<string, AbortController>();

  constructor(private readonly o: OffloadOptions) {}

  breaker(peer: string): CircuitBreaker {
    let b = this.breakers.get(peer);
    if (!b) {
      b = new CircuitBreaker(`peer:${peer}`, { failureThreshold: this.o.breakerThreshold, cooldownMs: this.o.breakerCooldownMs });
      this.breakers.set(peer, b);
    }
    return b;
  }

  breakerSnapshots(): ReturnType<CircuitBreaker["snapshot"]>[] {
    return [...this.breakers.values()].map((b) => b.snapshot());
  }

  /** Core peers able to take a request now, best first (most free slots, then shortest queue). */
  candidates(): OffloadPeer[] {
    return this.o
      .corePeers()
      .filter((p) => p.online && p.manifest?.capabilities.inference.available && this.breaker(p.nodeId).state !== "open")
      .map((p) => ({ p, free: p.manifest!.capabilities.inference.freeSlots - (this.sentTo.get(p.nodeId) ?? 0), q: p.manifest!.capabilities.inference.queueDepth }))
      .filter((x) => x.free > 0)
      .sort((a, b) => b.free - a.free || a.q - b.q)
      .map((x) => x.p);
  }

  /** Streams a chat completion from a peer when that is the better choice, else locally. */
  async *stream(request: ChatRequest, options: { signal?: AbortSignal; prefer?: OffloadPreference } = {}): AsyncGenerator<OffloadChunk> {
    const prefer = options.prefer ?? "auto";
    const local = this.o.local();
    const localBusy = !local.available() || local.capacity().freeSlots <= 0;
    const peer = prefer === "local" || (prefer === "auto" && !localBusy) ? undefined : this.candidates()[0];
    if (peer) {
      let started = false;
      try {
        for await (const text of this.fromPeer(peer.nodeId, request, options.signal)) {
          started = true;
          yield { text, source: peer.nodeId };
        }
        return;
      } catch (err) {
        this.o.counters.offload.failures++;
        if (started || options.signal?.aborted) throw err;
        this.o.log.warn({ peer: peer.nodeId, err: (err as Error).message }, "federation: offload failed before the first token; running locally");
        this.o.counters.offload.fallbacks++;
      }
    }
    if (!local.available()) {
      throw new SovereignError("FED_NO_LOCAL_INFERENCE", peer ? "The peer failed and this node has no inference to fall back to." : undefined);
    }
    for await (const text of local.stream(request, options.signal ?? new AbortController().signal)) yield { text, source: "local" };
  }

  /** One request to one peer, through its breaker. */
  private async *fromPeer(peer: string, request: ChatRequest, signal?: AbortSignal): AsyncGenerator<string> {
    const id = randomUUID();
    const queue: Array<{ text?: string; done?: boolean; error?: SovereignError }> = [];
    let wake: (() => void) | undefined;
    const push = (item: { text?: string; done?: boolean; error?: SovereignError }) => {
      queue.push(item);
      wake?.();
    };
    let settle!: (err?: SovereignError) => void;
    const outcome = new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err) : resolve());
    });
    outcome.catch(() => undefined);
    // The breaker sees the whole exchange: it fails if the stream fails at any point.
    const guarded = this.breaker(peer).call(() => outcome);
    guarded.catch(() => undefined);
    let first = true;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (timer) clearTimeout(timer);
      const ms = first ? this.o.firstTokenTimeoutMs : this.o.idleTimeoutMs;
      timer = setTimeout(() => push({ error: new SovereignError("FED_OFFLOAD_TIMEOUT", `Peer ${peer} sent nothing for ${ms} ms.`, { details: { peer } }) }), ms);
    };
    const onAbort = () => {
      this.o.send(peer, sealMessage(this.o.key, "offload-cancel", this.o.nodeId, peer, { id }));
      push({ error: new SovereignError("FED_OFFLOAD_REFUSED", "The request was cancelled.") });
    };
    this.pending.set(id, { peer, push });
    this.sentTo.set(peer, (this.sentTo.get(peer) ?? 0) + 1);
    this.o.counters.offload.requested++;
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      // An open breaker rejects at once, before anything is sent.
      await Promise.race([guarded, Promise.resolve()]);
      if (!this.o.send(peer, sealMessage(this.o.key, "offload-req", this.o.nodeId, peer, { id, request }))) {
        throw new SovereignError("FED_OFFLOAD_PEER_LOST", "The broker link is down.", { details: { peer } });
      }
      arm();
      for (;;) {
        const item = queue.shift();
        if (!item) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        if (item.error) throw item.error;
        if (item.done) break;
        if (item.text) {
          first = false;
          arm();
          yield item.text;
        }
      }
      settle();
    } catch (err) {
      settle(err instanceof SovereignError ? err : new SovereignError("FED_OFFLOAD_REFUSED", (err as Error).message));
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.pending.delete(id);
      this.sentTo.set(peer, Math.max(0, (this.sentTo.get(peer) ?? 1) - 1));
    }
  }

  /** A chunk from the peer serving one of our requests. */
  onChunk(from: string, body: unknown): string | null {
    const b = body as { id?: unknown; text?: unknown; done?: unknown; error?: unknown } | null;
    if (!b || typeof b.id !== "string") return "malformed";
    const p = this.pending.get(b.id);
    if (!p || p.peer !== from) return "misaddressed";
    if (typeof b.error === "string") p.push({ error: new SovereignError("FED_OFFLOAD_REFUSED", `Peer ${from}: ${b.error}`, { details: { peer: from } }) });
    else if (typeof b.text === "string") p.push({ text: b.text });
    if (b.done === true) p.push({ done: true });
    return null;
  }

  /** The peer went away (its last will, or our link dropped): end its streams now. */
  peerLost(peer: string): void {
    for (const p of this.pending.values()) {
      if (p.peer === peer) p.push({ error: new SovereignError("FED_OFFLOAD_PEER_LOST", `Peer ${peer} went offline mid-stream.`, { details: { peer } }) });
    }
  }

  /** Serves a core peer's request with local inference, streaming chunks to its inbox. */
  onRequest(from: string, body: unknown): string | null {
    const b = body as { id?: unknown; request?: unknown } | null;
    const req = b?.request as ChatRequest | undefined;
    if (!b || typeof b.id !== "string" || b.id.length > 64 || !req || !Array.isArray(req.messages)) return "malformed";
    const id = b.id;
    const reply = (chunk: Record<string, unknown>) => this.o.send(from, sealMessage(this.o.key, "offload-chunk", this.o.nodeId, from, { id, ...chunk }));
    const local = this.o.local();
    if (!local.available()) {
      reply({ error: "no inference on this node", done: true });
      return null;
    }
    const ac = new AbortController();
    this.serving.set(`${from}/${id}`, ac);
    this.o.counters.offload.served++;
    void (async () => {
      try {
        for await (const text of local.stream(req, ac.signal)) {
          if (ac.signal.aborted) return;
          reply({ text });
        }
        reply({ done: true });
      } catch (err) {
        if (!ac.signal.aborted) reply({ error: (err as Error).message, done: true });
      } finally {
        this.serving.delete(`${from}/${id}`);
      }
    })();
    return null;
  }

  onCancel(from: string, body: unknown): string | null {
    const id = (body as { id?: unknown } | null)?.id;
    if (typeof id !== "string") return "malformed";
    this.serving.get(`${from}/${id}`)?.abort();
    return null;
  }

  close(): void {
    for (const ac of this.serving.values()) ac.abort();
    for (const p of this.pending.values()) p.push({ error: new SovereignError("FED_OFFLOAD_PEER_LOST", "This node is shutting down.") });
  }
}
