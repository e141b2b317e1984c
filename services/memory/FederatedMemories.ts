import { normalizeTags, toMemory, type Memory } from "./MemoryStore.js";
import type { MemoryService } from "./MemoryService.js";

/**
 * The owner under which a user's quarantined knowledge is kept: every read
 * path filters by owner, so nothing here reaches that user's search, RAG or
 * listing until someone looks at it on purpose.
 */
export function quarantineOf(userId: string): string {
  return `quarantine:${userId}`;
}

export interface FederatedMemoryInput {
  /** The owner: a user id, or `quarantineOf(user)`. */
  userId: string;
  /** The knowledge item (one row per owner and item): "memory:<key>" or "packet:<id>". */
  fedKey: string;
  /** Node id of the peer that wrote it. */
  origin: string;
  text: string;
  source: string;
  kind: string;
  tags: readonly string[];
  importance: number;
  /** Epoch ms, as the author's clock saw it. */
  createdAt: number;
}

export type FederatedOutcome = "inserted" | "replaced" | "unchanged";

/**
 * Memories that came from federation peers, beside the node's own: each row
 * keeps its origin (memories.origin) and item key (memories.fed_key, unique
 * per owner), so applying the same knowledge twice leaves one row, a newer
 * version replaces the older one, and `ownSince` never hands a peer's
 * memory back out as ours.
 */
export class FederatedMemories {
  private readonly byKey;
  private readonly mark;
  private readonly own;

  constructor(private readonly memory: MemoryService) {
    const db = memory.db;
    this.byKey = db.prepare("SELECT id, text, source, kind, tags, importance, origin FROM memories WHERE user_id = ? AND fed_key = ?");
    this.mark = db.prepare("UPDATE memories SET origin = ?, fed_key = ? WHERE id = ?");
    this.own = db.prepare("SELECT * FROM memories WHERE user_id = ? AND id > ? AND origin IS NULL ORDER BY id LIMIT ?");
  }

  /** Writes (or replaces) the row for one knowledge item, in one transaction; embedding follows in the background. */
  apply(m: FederatedMemoryInput): { id: number; outcome: FederatedOutcome } {
    return this.memory.db.transaction(() => {
      const cur = this.byKey.get(m.userId, m.fedKey) as { id: number; text: string; source: string; kind: string; tags: string; importance: number; origin: string } | undefined;
      const tags = normalizeTags(m.tags);
      const importance = Math.min(1, Math.max(0, m.importance));
      if (cur && cur.text === m.text && cur.source === m.source && cur.kind === m.kind && cur.origin === m.origin && cur.tags === JSON.stringify(tags) && cur.importance === importance) {
        return { id: cur.id, outcome: "unchanged" as const };
      }
      if (cur) {
        this.memory.store.delete(m.userId, [cur.id]);
        this.memory.vectors.removeFromIndex([cur.id]);
      }
      const [id] = this.memory.store.insertMany([
        { userId: m.userId, text: m.text, source: m.source, kind: m.kind, tags, importance, createdAt: m.createdAt },
      ]);
      this.mark.run(m.origin, m.fedKey, id);
      this.memory.vectors.kick();
      return { id: id!, outcome: cur ? ("replaced" as const) : ("inserted" as const) };
    })();
  }

  /** Row id of the memory holding an item, if any. */
  idOf(userId: string, fedKey: string): number | undefined {
    return (this.byKey.get(userId, fedKey) as { id: number } | undefined)?.id;
  }

  /** This node's own memories of a user after a row id, oldest first: what federation may publish. */
  ownSince(userId: string, afterId: number, limit: number): Memory[] {
    return (this.own.all(userId, afterId, limit) as Parameters<typeof toMemory>[0][]).map(toMemory);
  }
}
