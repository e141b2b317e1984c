import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable, Transform } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { breakers } from "../../core/circuitBreaker.js";
import type { ModelEntry, ModelRegistry } from "./ModelRegistry.js";

export interface PullProgress {
  received: number;
  total: number | null;
  resumedFrom: number;
}

export interface PullOptions {
  sha256: string;
  name?: string;
  kind?: "llm" | "embedding";
  onProgress?: (p: PullProgress) => void;
  signal?: AbortSignal;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A network failure or a 5xx counts against the host; a 4xx (wrong URL) does not. */
function countsAgainstHost(err: unknown): boolean {
  if (!(err instanceof SovereignError) || err.code !== "PULL_FAILED") return false;
  const status = (err.details as { status?: unknown } | undefined)?.status;
  return typeof status !== "number" || status >= 500;
}

/** Fetches into `part`, resuming it with a Range request. */
async function download(url: string, parsed: URL, part: string, options: PullOptions, breakerSignal: AbortSignal): Promise<void> {
  const signal = options.signal ? AbortSignal.any([options.signal, breakerSignal]) : breakerSignal;
  let offset = existsSync(part) ? statSync(part).size : 0;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      signal,
    });
  } catch (err) {
    throw new SovereignError("PULL_FAILED", `Cannot reach ${parsed.host}: ${(err as Error).message}`, { cause: err });
  }
  if (response.status === 416 && offset > 0) {
    // The partial file is already complete (or longer than the resource): check it as is.
    await response.body?.cancel();
  } else if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new SovereignError("PULL_FAILED", `The server answered ${response.status} ${response.statusText} for ${url}.`, { details: { status: response.status } });
  } else {
    if (offset > 0 && response.status !== 206) offset = 0; // the server ignored Range: start over
    const length = Number(response.headers.get("content-length"));
    const total = Number.isFinite(length) && length > 0 ? offset + length : null;
    let received = offset;
    let lastReport = 0;
    const progress = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length;
        const now = Date.now();
        if (options.onProgress && now - lastReport > 250) {
          lastReport = now;
          options.onProgress({ received, total, resumedFrom: offset });
        }
        done(null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
        progress,
        createWriteStream(part, { flags: offset > 0 ? "a" : "w", mode: 0o600 }),
        { signal },
      );
    } catch (err) {
      throw new SovereignError("PULL_FAILED", `The download stopped at ${received} bytes: ${(err as Error).message}`, {
        cause: err, details: { received, total }, hint: "Run the same pull again: it resumes from where it stopped.",
      });
    }
    options.onProgress?.({ received, total, resumedFrom: offset });
    if (total !== null && received < total)
      throw new SovereignError("PULL_FAILED", `The download ended early at ${received} of ${total} bytes.`, { details: { received, total } });
  }

}

/**
 * Downloads a model into <models>/.partial/<sha256>.part, resuming that file
 * with a Range request when a previous pull stopped, then checks the sha256
 * and installs it through the registry (validate, atomic rename). A wrong
 * checksum deletes the partial file; a network failure keeps it for resume.
 * Nothing ever appears under a model name unless it is complete and verified.
 */
export async function pullModel(registry: ModelRegistry, url: string, options: PullOptions): Promise<ModelEntry> {
  const expected = options.sha256.toLowerCase();
  if (!HEX64.test(expected)) throw new SovereignError("BAD_REQUEST", "--sha256 must be 64 hex digits.", { details: { actual: options.sha256 } });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SovereignError("BAD_REQUEST", `"${url}" is not a URL.`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new SovereignError("BAD_REQUEST", "Only http and https URLs can be pulled.");
  const fileName = decodeURIComponent(parsed.pathname.split("/").pop() ?? "") || "model.gguf";
  const name = options.name ?? fileName.replace(/\.(gguf|onnx)$/i, "");
  if (registry.has(name)) throw new SovereignError("MODEL_EXISTS", `A model named "${name}" is already installed.`);

  const part = join(registry.partialDir, `${expected}.part`);
  // One breaker per host (services/net): after repeated failures a dead mirror is refused at once for a while.
  const breaker = breakers.get(`pull:${parsed.host}`, { failureThreshold: 3, cooldownMs: 60_000, isFailure: countsAgainstHost });
  await breaker.call((breakerSignal) => download(url, parsed, part, options, breakerSignal));

  const h = createHash("sha256");
  for await (const chunk of createReadStream(part, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  const actual = h.digest("hex");
  if (actual !== expected) {
    rmSync(part, { force: true });
    throw new SovereignError("MODEL_CHECKSUM_MISMATCH", `sha256 mismatch: expected ${expected}, got ${actual}. The download was deleted.`, { details: { expected, actual } });
  }
  try {
    return await registry.add(part, { name, sha256: expected, move: true, source: url, ...(options.kind ? { kind: options.kind } : {}) });
  } finally {
    rmSync(part, { force: true });
  }
}
