import { randomUUID, type KeyObject } from "node:crypto";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { CircuitBreaker } from "../../core/circuitBreaker.js";
import type { FederationCounters } from "./FederationStats.js";
import type { ChatRequest, LocalInference, OffloadAccount } from "./localInference.js";
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

type Item = { text?: string; done?: boolean; account?: OffloadAccount; error?: SovereignError };

interface Pending {
  peer: string;
  push: (item: Item) => void;
}

const ROLES = new Set(["system", "user", "assistant"]);
const count = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

function isMessage(m: unknown): boolean {
  const x = m as { role?: unknown; content?: unknown } | null;
  return !!x && typeof x === "object" && ROLES.has(x.role as string) && typeof x.content === "string";
}

/** A peer's request, checked before it reaches inference (a core peer is trusted, its bytes still are not). */
function isChatRequest(r: unknown): r is ChatRequest {
  const o = r as Partial<Record<keyof ChatRequest, unknown>> | null;
  if (!o || typeof o !== "object" || !Array.isArray(o.messages) || o.messages.length === 0) return false;
  if (!o.messages.every(isMessage)) return false;
  if (o.model !== undefined && typeof o.model !== "string") return false;
  if (o.sampling !== undefined && (typeof o.sampling !== "object" || o.sampling === null || Array.isArray(o.sampling))) return false;
  const t = o.trimmable as { start?: unknown; count?: unknown } | undefined;
  return t === undefined || (typeof t === "object" && t !== null && count(t.start) && count(t.count));
}

/** The account in a peer's last chunk, when it is well formed. */
function accountOf(v: unknown): OffloadAccount | undefined {
  const a = v as Partial<Record<keyof OffloadAccount, unknown>> | null;
  if (!a || typeof a !== "object" || typeof a.model !== "string" || !count(a.promptTokens) || !count(a.completionTokens)) return undefined;
  const finishReason = a.finishReason === "length" || a.finishReason === "abort" ? a.finishReason : "stop";
  return { model: a.model, promptTokens: a.promptTokens, completionTokens: a.completionTokens, finishReason };
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

  /** Core peers able to take a request now (with `model` installed, when one is named), best first (most free slots, then shortest queue). */
  candidates(model?: string): OffloadPeer[] {
    return this.o
      .corePeers()
      .filter((p) => p.online && p.manifest?.capabilities.inference.available && this.breaker(p.nodeId).state !== "open")
      .filter((p) => model === undefined || p.manifest!.capabilities.models.includes(model))
      .map((p) => ({ p, free: p.manifest!.capabilities.inference.freeSlots - (this.sentTo.get(p.nodeId) ?? 0), q: p.manifest!.capabilities.inference.queueDepth }))
      .filter((x) => x.free > 0)
      .sort((a, b) => b.free - a.free || a.q - b.q)
      .map((x) => x.p);
  }

  /** The best core peer for a request of `model` (any chat model when undefined) now, or null: the chat service's offload decision asks this. */
  peerFor(model?: string): { nodeId: string; name: string } | null {
    const p = this.candidates(model)[0];
    return p ? { nodeId: p.nodeId, name: p.manifest?.name ?? p.nodeId } : null;
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

  /**
   * One request to one peer, through its breaker: yields the peer's text and
   * returns its account (undefined from a peer that sends none). Throws
   * FED_OFFLOAD_* when the peer fails, within firstTokenTimeoutMs before its
   * first chunk and idleTimeoutMs between chunks; the peer is told to stop.
   */
  async *fromPeer(peer: string, request: ChatRequest, signal?: AbortSignal): AsyncGenerator<string, OffloadAccount | undefined> {
    const id = randomUUID();
    const queue: Item[] = [];
    let wake: (() => void) | undefined;
    const push = (item: Item) => {
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
    let finished = false;
    let account: OffloadAccount | undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (timer) clearTimeout(timer);
      const ms = first ? this.o.firstTokenTimeoutMs : this.o.idleTimeoutMs;
      timer = setTimeout(() => push({ error: new SovereignError("FED_OFFLOAD_TIMEOUT", `Peer ${peer} sent nothing for ${ms} ms.`, { details: { peer } }) }), ms);
    };
    const cancel = () => this.o.send(peer, sealMessage(this.o.key, "offload-cancel", this.o.nodeId, peer, { id }));
    const onAbort = () => {
      cancel();
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
        if (item.done) {
          account = item.account;
          break;
        }
        if (item.text) {
          first = false;
          arm();
          yield item.text;
        }
      }
      settle();
      finished = true;
      return account;
    } catch (err) {
      settle(err instanceof SovereignError ? err : new SovereignError("FED_OFFLOAD_REFUSED", (err as Error).message));
      this.o.counters.offload.failures++;
      throw err;
    } finally {
      // Timed out, or the consumer stopped early: the peer need not go on generating (cancelling twice is harmless).
      if (!finished && !signal?.aborted) cancel();
      if (timer) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.pending.delete(id);
      this.sentTo.set(peer, Math.max(0, (this.sentTo.get(peer) ?? 1) - 1));
    }
  }

  /** A chunk from the peer serving one of our requests. */
  onChunk(from: string, body: unknown): string | null {
    const b = body as { id?: unknown; text?: unknown; done?: unknown; error?: unknown; account?: unknown } | null;
    if (!b || typeof b.id !== "string") return "malformed";
    const p = this.pending.get(b.id);
    if (!p || p.peer !== from) return "misaddressed";
    if (typeof b.error === "string") p.push({ error: new SovereignError("FED_OFFLOAD_REFUSED", `Peer ${from}: ${b.error}`, { details: { peer: from } }) });
    else if (typeof b.text === "string") p.push({ text: b.text });
    if (b.done === true) p.push({ done: true, account: accountOf(b.account) });
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
    if (!b || typeof b.id !== "string" || b.id.length > 64 || !isChatRequest(b.request)) return "malformed";
    const id = b.id;
    const req = b.request;
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
        const it = local.stream(req, ac.signal);
        for (;;) {
          const next = await it.next();
          if (ac.signal.aborted) return;
          if (next.done) {
            // The account lets the sender charge the caller's quota and audit what was used.
            reply({ done: true, ...(next.value ? { account: next.value } : {}) });
            break;
          }
          reply({ text: next.value });
        }
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
