import { createWriteStream, rmSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import multipart from "@fastify/multipart";
import type { FastifyInstance } from "fastify";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import { pullModel, type PullProgress } from "../pullModel.js";
import type { InferenceApi } from "../types.js";
import { fileRefused, importDirsOf, openImportFile } from "../importFile.js";
import { auditModel as audit } from "./auditModel.js";
import { removeModel } from "./removeModel.js";

interface AddBody { path: string; name?: string; sha256?: string; kind?: "llm" | "embedding" }
interface PullBody { url: string; sha256: string; name?: string; kind?: "llm" | "embedding" }
interface UploadQuery { name?: string; sha256?: string; kind?: "llm" | "embedding" }

const kind = { type: "string", enum: ["llm", "embedding"] } as const;
const sha = { type: "string", pattern: "^[0-9a-fA-F]{64}$" } as const;
const name = { type: "string", minLength: 1, maxLength: 128 } as const;

/**
 * Admin routes for installed models (/api/models): list, add a file already on
 * the node, pull from a URL, upload (multipart), remove, verify, load.
 * Access: the "models" scope (admins).
 */
export async function modelRoutes(app: FastifyInstance, opts: { inference: InferenceApi; uploadLimitBytes: number }): Promise<void> {
  const { inference } = opts;
  const registry = inference.registry;
  const config = { scope: "models" as const };
  await app.register(multipart, { limits: { fileSize: opts.uploadLimitBytes, files: 1, fields: 0, parts: 1 }, throwFileSizeLimit: true });

  app.get("/models", { config }, async () => ({ models: registry.list(), default: defaultName(inference), defaultChosen: registry.getDefault(), status: inference.status() }));

  // Persists the default chat model (answers requests that name no model) and loads it.
  app.put<{ Body: { name: string } }>("/models/default", {
    config,
    schema: { body: { type: "object", required: ["name"], additionalProperties: false, properties: { name } } },
  }, async (request) => {
    const entry = registry.setDefault(request.body.name);
    audit(app, request, "model.default_set", entry.name, {});
    await inference.load(entry.name);
    return { default: entry.name, status: inference.status() };
  });

  // `engine`: how the loaded chat model's decodes were gathered and threaded (asked of its runner).
  app.get("/inference/status", { config }, async () => ({ ...inference.status(), engine: await inference.engineStats() }));

  app.post<{ Body: AddBody }>("/models", {
    config,
    schema: { body: { type: "object", required: ["path"], additionalProperties: false, properties: { path: { type: "string", minLength: 1 }, name, sha256: sha, kind } } },
  }, async (request, reply) => {
    const b = request.body;
    // Only a regular file inside an import directory, opened without blocking; any other path gets MODEL_FILE_REFUSED.
    const file = await openImportFile(b.path, importDirsOf(app.config["inference.importDirs"], registry.dir, app.config["paths.dataDir"]));
    let entry;
    try {
      entry = await registry.add(file.path, { name: b.name ?? file.name, ...(b.sha256 ? { sha256: b.sha256 } : {}), ...(b.kind ? { kind: b.kind } : {}) });
    } catch (err) {
      // Whether a file is GGUF is no more an answer than whether it exists. Impossible hyperparameters
      // (details.key) are said: only a well-formed GGUF inside an import directory gets that far.
      if (err instanceof SovereignError && ((err.code === "MODEL_INVALID" && err.details?.key === undefined) || err.code === "MODEL_FILE_MISSING")) throw fileRefused();
      throw err;
    } finally {
      await file.close();
    }
    audit(app, request, "model.added", entry.name, { from: "path", file: b.path, sha256: entry.sha256, size: entry.size, kind: entry.kind });
    return reply.code(201).send(entry);
  });

  app.post<{ Body: PullBody }>("/models/pull", {
    config,
    schema: { body: { type: "object", required: ["url", "sha256"], additionalProperties: false, properties: { url: { type: "string", minLength: 1 }, sha256: sha, name, kind } } },
  }, async (request, reply) => {
    const b = request.body;
    let entry;
    try {
      // Progress goes out on the live channel, for the Models page's bar.
      const onProgress = (p: PullProgress): void => app.liveEvents.publish("model-pull", { name: b.name ?? null, received: p.received, total: p.total });
      entry = await pullModel(registry, b.url, { sha256: b.sha256, onProgress, ...(b.name ? { name: b.name } : {}), ...(b.kind ? { kind: b.kind } : {}) });
    } catch (err) {
      audit(app, request, "model.pull_failed", b.name ?? null, { url: b.url, sha256: b.sha256.toLowerCase(), error: (err as { code?: string }).code ?? "INTERNAL" });
      throw err;
    }
    audit(app, request, "model.pulled", entry.name, { url: b.url, sha256: entry.sha256, size: entry.size, kind: entry.kind });
    return reply.code(201).send(entry);
  });

  app.post<{ Querystring: UploadQuery }>("/models/upload", {
    config,
    schema: { querystring: { type: "object", additionalProperties: false, properties: { name, sha256: sha, kind } } },
  }, async (request, reply) => {
    if (!request.isMultipart()) throw new SovereignError("UNSUPPORTED_MEDIA_TYPE", "Upload the model as multipart/form-data with one file part.");
    const tmp = registry.tempPath();
    try {
      let part: Awaited<ReturnType<typeof request.file>>;
      try {
        part = await request.file();
      } catch (err) {
        // busboy refuses a malformed or truncated body ("Unexpected end of multipart data", a bad boundary): the client's fault.
        if (err instanceof SovereignError) throw err;
        const code = (err as { code?: string }).code;
        if (code === "FST_REQ_FILE_TOO_LARGE") throw new SovereignError("MODEL_TOO_LARGE", `The upload is larger than ${opts.uploadLimitBytes} bytes.`);
        throw new SovereignError("UPLOAD_INCOMPLETE", `The upload is not well-formed multipart data: ${(err as Error).message}`, { cause: err });
      }
      if (!part) throw new SovereignError("UPLOAD_INCOMPLETE", "The upload has no file part.");
      try {
        await pipeline(part.file, createWriteStream(tmp, { mode: 0o600 }));
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "FST_REQ_FILE_TOO_LARGE") throw new SovereignError("MODEL_TOO_LARGE", `The upload is larger than ${opts.uploadLimitBytes} bytes.`);
        throw new SovereignError("UPLOAD_INCOMPLETE", `The upload stopped: ${(err as Error).message}`, { cause: err });
      }
      if (part.file.truncated) throw new SovereignError("MODEL_TOO_LARGE", `The upload is larger than ${opts.uploadLimitBytes} bytes.`);
      const q = request.query;
      const fallback = part.filename ? part.filename.replace(/\.gguf$/i, "") : undefined;
      const modelName = q.name ?? fallback;
      const entry = await registry.add(tmp, {
        move: true, ...(modelName ? { name: modelName } : {}), ...(q.sha256 ? { sha256: q.sha256 } : {}), ...(q.kind ? { kind: q.kind } : {}), source: "upload",
      });
      audit(app, request, "model.added", entry.name, { from: "upload", sha256: entry.sha256, size: entry.size, kind: entry.kind });
      return reply.code(201).send(entry);
    } finally {
      rmSync(tmp, { force: true });
    }
  });

  app.delete<{ Params: { name: string } }>("/models/:name", { config }, async (request) => ({ removed: await removeModel(app, request, inference, request.params.name) }));

  app.post<{ Body: { name?: string } | undefined }>("/models/verify", {
    config,
    schema: { body: { type: ["object", "null"], additionalProperties: false, properties: { name } } },
  }, async (request) => {
    const results = await registry.verify(request.body?.name);
    return { ok: results.every((r) => r.ok), results };
  });

  app.post<{ Params: { name: string } }>("/models/:name/load", { config }, async (request) => {
    await inference.load(request.params.name);
    return inference.status();
  });

  // Lifts a quarantine and, for a chat model, loads it at once: a model that crashes its runner again is quarantined again.
  app.post<{ Params: { name: string } }>("/models/:name/retry", { config }, async (request) => {
    const before = registry.get(request.params.name);
    const entry = registry.clearQuarantine(before.name);
    audit(app, request, "model.retried", entry.name, { quarantine: before.quarantine ?? null });
    if (entry.kind === "llm") await inference.load(entry.name);
    return { model: registry.get(entry.name), status: inference.status() };
  });
}

/** The chat model that answers requests naming none, or null when no chat model is installed. */
function defaultName(inference: InferenceApi): string | null {
  try {
    return inference.resolveModel("llm").name;
  } catch {
    return null;
  }
}
