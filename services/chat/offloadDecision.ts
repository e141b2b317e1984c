import type { InferenceStatus } from "../inference/types.js";

/** Why a turn goes to a peer: this node has no free generation slot, or lacks the model asked for. */
export type OffloadReason = "busy" | "no-model";

/**
 * Whether a turn should leave this node, before any peer is looked at.
 * `localModel` is the installed model the request resolves to here (null:
 * none). Busy means every slot is taken or promised to a waiting request, the
 * same measure a node announces as free slots in its manifest, so two nodes
 * judge capacity alike.
 */
export function offloadReason(localModel: string | null, queue: Pick<InferenceStatus["queue"], "active" | "waiting" | "slots">): OffloadReason | null {
  if (localModel === null) return "no-model";
  return queue.slots - queue.active - queue.waiting <= 0 ? "busy" : null;
}
