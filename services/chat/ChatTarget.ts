import type { GenerateRequest, GenerateResult } from "../inference/types.js";
import type { ChatOffload, PeerAccount } from "./types.js";

/** Where a prepared chat turn runs: this node's inference, or a federation peer. */
export interface ChatTarget {
  /** "local", or the node id of the peer. */
  readonly source: string;
  /** The peer's name (absent when local). */
  readonly name?: string;
  generate(request: GenerateRequest): Promise<GenerateResult>;
}

/**
 * A turn on a core peer, through federation's offload (signed MQTT messages,
 * the peer's circuit breaker and its timers). The result has the local
 * shape: tokens as the peer counted them (chunks when it sends no account),
 * times as seen here. A turn the caller stops ends as "abort" with the text
 * so far, as a local one does.
 */
export function peerTarget(offload: ChatOffload, peer: { nodeId: string; name: string }): ChatTarget {
  return {
    source: peer.nodeId,
    name: peer.name,
    async generate(req: GenerateRequest): Promise<GenerateResult> {
      const t0 = performance.now();
      let firstAt: number | null = null;
      let chunks = 0;
      let text = "";
      const stream = offload.fromPeer(
        peer.nodeId,
        {
          messages: req.messages ?? [],
          ...(req.model ? { model: req.model } : {}),
          ...(req.sampling ? { sampling: req.sampling } : {}),
          ...(req.trimmable ? { trimmable: req.trimmable } : {}),
        },
        req.signal,
      );
      let account: PeerAccount | undefined;
      try {
        for (;;) {
          const next = await stream.next();
          if (next.done) {
            account = next.value;
            break;
          }
          firstAt ??= performance.now();
          chunks++;
          text += next.value;
          req.onText?.(next.value);
        }
      } catch (err) {
        if (!req.signal?.aborted) throw err;
      }
      const end = performance.now();
      const aborted = req.signal?.aborted === true;
      const completionTokens = account?.completionTokens ?? chunks;
      const genMs = firstAt !== null ? end - firstAt : 0;
      return {
        model: account?.model ?? req.model ?? "",
        text,
        finishReason: aborted ? "abort" : (account?.finishReason ?? "stop"),
        promptTokens: account?.promptTokens ?? 0,
        completionTokens,
        reusedPromptTokens: 0,
        timings: {
          queuedMs: 0, loadMs: 0,
          firstTokenMs: firstAt !== null ? Math.round(firstAt - t0) : null,
          totalMs: Math.round(end - t0),
          tokensPerSecond: genMs > 0 && completionTokens > 1 ? ((completionTokens - 1) * 1000) / genMs : null,
        },
      };
    },
  };
}
