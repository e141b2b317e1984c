import { quarantineOf, type FederatedMemories } from "../memory/FederatedMemories.js";
import type { FederationStore } from "./FederationStore.js";
import type { KnowledgePacket } from "./KnowledgePacket.js";
import type { AppliedPacket, NewPacket } from "./SyncEngine.js";

/** The body of a "memory" or "summary" packet. Only `text` is required; `key` makes it an item that later packets update. */
export interface KnowledgeBody {
  text: string;
  key?: string;
  source?: string;
  kind?: string;
  tags?: string[];
  importance?: number;
  createdAt?: number;
}

const WATERMARK = "memory-export-after";

/** Checks a peer's body before anything in it is stored; null when it is not usable knowledge. */
export function parseKnowledge(body: unknown, maxTextBytes: number): KnowledgeBody | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const b = body as Record<string, unknown>;
  const str = (v: unknown, max: number): v is string | undefined => v === undefined || (typeof v === "string" && v.length > 0 && v.length <= max);
  if (typeof b.text !== "string" || b.text.trim().length === 0 || Buffer.byteLength(b.text) > maxTextBytes) return null;
  const { text, key, source, kind, tags, importance, createdAt } = b;
  if (!str(key, 256) || !str(source, 200) || !str(kind, 64)) return null;
  if (tags !== undefined && (!Array.isArray(tags) || tags.length > 32 || !tags.every((t): t is string => typeof t === "string" && t.length <= 64))) return null;
  if (importance !== undefined && (typeof importance !== "number" || !(importance >= 0 && importance <= 1))) return null;
  if (createdAt !== undefined && (typeof createdAt !== "number" || !Number.isSafeInteger(createdAt) || createdAt < 0)) return null;
  return {
    text, ...(key !== undefined ? { key } : {}), ...(source !== undefined ? { source } : {}), ...(kind !== undefined ? { kind } : {}),
    ...(tags !== undefined ? { tags } : {}), ...(importance !== undefined ? { importance } : {}), ...(createdAt !== undefined ? { createdAt } : {}),
  };
}

export interface MemoryBridgeOptions {
  memories: FederatedMemories;
  /** Whose memory is shared (federation.memoryUser, resolved when used: the owner may claim the node later). */
  user: () => string;
  nodeId: string;
  store: FederationStore;
  publish: (items: NewPacket[]) => KnowledgePacket[];
  maxTextBytes: number;
  /** Packets larger than this could never be delivered (federation.maxPayloadBytes less the envelope). */
  maxPacketBytes: number;
  counters: { applied: number; quarantined: number; stale: number; rejected: number; published: number; tooLarge: number };
  log: { warn: (obj: object, msg: string) => void };
}

/**
 * Knowledge packets to and from `app.memory`.
 *
 * In: a memory or summary packet from a core peer becomes a memory of
 * federation.memoryUser, one from a sandbox peer a memory in that user's
 * quarantine (`quarantineOf`), out of search. Each carries its origin (the
 * author's node id, in memories.origin and as the tags "federated" and
 * "from:<node id>") and its item key, so a replay leaves one row and a
 * packet that lost the conflict rule changes nothing.
 *
 * Out: the user's own memories (origin NULL: never a peer's) are published
 * in row order from a persisted watermark, keyed "<our node id>:<row id>".
 */
export class MemoryBridge {
  constructor(private readonly o: MemoryBridgeOptions) {}

  /** Runs inside the inbound message's savepoint: a throw rolls the packet back and sync asks for it again. */
  apply(a: AppliedPacket): void {
    const { packet, scope } = a;
    const type = packet.content.type;
    if (type !== "memory" && type !== "summary") return;
    if (!a.current) {
      this.o.counters.stale++;
      return;
    }
    const body = parseKnowledge(packet.content.body, this.o.maxTextBytes);
    const author = packet.content.author;
    if (!body) {
      this.o.counters.rejected++;
      this.o.log.warn({ peer: author, packet: packet.id }, "federation: a knowledge packet's body is not a memory; not stored");
      return;
    }
    this.o.memories.apply({
      userId: scope === "main" ? this.o.user() : quarantineOf(this.o.user()),
      fedKey: body.key !== undefined ? `${type}:${body.key}` : `packet:${packet.id}`,
      origin: author,
      text: body.text,
      source: body.source ?? `peer:${author}`,
      kind: body.kind ?? (type === "summary" ? "summary" : "note"),
      tags: ["federated", `from:${author}`, ...(body.tags ?? [])],
      importance: body.importance ?? 0.5,
      createdAt: body.createdAt ?? packet.content.createdAt,
    });
    if (scope === "main") this.o.counters.applied++;
    else this.o.counters.quarantined++;
  }

  /** Publishes the user's memories added since the last call (at most `limit` rows); returns how many rows it went past. */
  exportNew(limit = 500): number {
    const { store, memories, nodeId } = this.o;
    return store.sqlite.transaction(() => {
      const after = store.selfValue(WATERMARK);
      const rows = memories.ownSince(this.o.user(), after, limit);
      if (rows.length === 0) return 0;
      const items: NewPacket[] = [];
      for (const m of rows) {
        const body: KnowledgeBody = {
          key: `${nodeId}:${m.id}`, text: m.text, source: m.source, kind: m.kind, tags: m.tags, importance: m.importance, createdAt: Date.parse(m.createdAt),
        };
        if (Buffer.byteLength(JSON.stringify(body)) > this.o.maxPacketBytes) {
          this.o.counters.tooLarge++;
          this.o.log.warn({ memory: m.id }, "federation: a memory is larger than a packet may be; not shared");
          continue;
        }
        items.push({ type: m.kind === "summary" ? "summary" : "memory", body });
      }
      if (items.length > 0) this.o.publish(items);
      store.setSelfValue(WATERMARK, rows[rows.length - 1]!.id);
      this.o.counters.published += items.length;
      return rows.length;
    })();
  }
}

/** How often the user's new memories are looked for (a primary-key range read: nothing when nothing is new). */
const EXPORT_EVERY_MS = 2000;

/**
 * Connects federation to `app.memory` when both run: packets apply to
 * memory, and new memories go out. Returns what stops the export timer.
 */
export function bridgeMemory(
  fed: { nodeId: string; enabled: boolean; store: FederationStore; counters: { knowledge: MemoryBridgeOptions["counters"] }; publish: (items: NewPacket[]) => KnowledgePacket[]; onApply: (fn: (a: AppliedPacket) => void) => unknown },
  memories: FederatedMemories,
  o: { user: () => string; maxTextBytes: number; maxPayloadBytes: number; log: MemoryBridgeOptions["log"] & { error: (obj: object, msg: string) => void } },
): { bridge: MemoryBridge; stop: () => void } {
  const bridge = new MemoryBridge({
    memories, user: o.user, nodeId: fed.nodeId, store: fed.store, publish: (items) => fed.publish(items),
    maxTextBytes: o.maxTextBytes, maxPacketBytes: o.maxPayloadBytes - 4096, counters: fed.counters.knowledge, log: o.log,
  });
  fed.onApply((a) => bridge.apply(a));
  if (!fed.enabled) return { bridge, stop: () => undefined };
  const run = () => {
    try {
      // At most one batch a tick: a large backlog (federation just turned on) goes out without stalling the node.
      bridge.exportNew();
    } catch (err) {
      o.log.error({ err: (err as Error).message }, "federation: could not publish new memories; will retry");
    }
  };
  run();
  const timer = setInterval(run, EXPORT_EVERY_MS).unref();
  return { bridge, stop: () => clearInterval(timer) };
}
