import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ModelEntry } from "../ModelRegistry.js";
import type { InferenceApi } from "../types.js";
import { auditModel } from "./auditModel.js";

/**
 * Removes an installed model and its file, unloading it first when it is the
 * loaded one, and records it in the audit log: the Models API and Ollama's
 * /api/delete both come here. `via` names the API in the record.
 */
export async function removeModel(app: FastifyInstance, request: FastifyRequest, inference: InferenceApi, name: string, via?: string): Promise<ModelEntry> {
  if (inference.status().loaded?.name === name) await inference.unload();
  const removed = inference.registry.remove(name);
  auditModel(app, request, "model.removed", removed.name, { sha256: removed.sha256, kind: removed.kind, ...(via ? { via } : {}) });
  return removed;
}
