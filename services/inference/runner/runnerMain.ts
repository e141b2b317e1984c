/**
 * A runner: the child process that owns llama.cpp for one model, started and
 * supervised by the node (RunnerProcess). A native abort, a segfault or an
 * out-of-memory kill here ends this process only. It speaks protocol.ts over
 * the IPC channel and exits when the channel closes (the node is gone).
 */
import { SovereignError } from "../../../core/errors/SovereignError.js";
import "../errors.js";
import { LlamaEngine, loadLlama } from "../LlamaEngine.js";
import { GgufEmbedder } from "../embeddings/GgufEmbedder.js";
import type { NodeToRunner, RunnerToNode, WireError } from "./protocol.js";
import type { ToolCallDelta } from "../types.js";
import { TextCoalescer } from "./TextCoalescer.js";

function send(msg: RunnerToNode): void {
  if (process.connected) process.send?.(msg);
}

function wire(err: unknown): WireError {
  if (err instanceof SovereignError)
    return { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}), ...(err.hint ? { hint: err.hint } : {}) };
  return { code: "INTERNAL", message: (err as Error)?.message ?? String(err) };
}

/**
 * Fault injection for the crash-loop test only: SOVEREIGN_FAULT_INJECT_RUNNER
 * = "abort-on-generate:<text>" aborts this process (SIGABRT, as a native
 * assert would) when it is asked to generate with a model whose file path
 * contains <text>. Ignored when NODE_ENV is "production" (the image).
 */
function injectedAbort(path: string | null): boolean {
  const knob = process.env.SOVEREIGN_FAULT_INJECT_RUNNER;
  if (!knob || process.env.NODE_ENV === "production" || !path) return false;
  const [mode, needle] = knob.split(":", 2);
  return mode === "abort-on-generate" && needle !== undefined && needle.length > 0 && path.includes(needle);
}

const logger = {
  warn: (_obj: object, message: string) => send({ type: "log", level: "warn", message }),
  debug: () => undefined,
};

let engine: LlamaEngine | null = null;
let embedder: GgufEmbedder | null = null;
let modelName: string | null = null;
let modelPath: string | null = null;
const running = new Map<number, AbortController>();

async function handle(msg: NodeToRunner): Promise<unknown> {
  switch (msg.op) {
    case "ping":
      return null;
    case "load": {
      if (engine || embedder) throw new SovereignError("INTERNAL", "This runner already holds a model.");
      modelName = msg.name;
      modelPath = msg.path;
      if (msg.kind === "embedding") {
        embedder = await GgufEmbedder.load(msg.path, msg.settings.threads, logger);
        return { contextSize: 0, dimensions: embedder.dimensions };
      }
      engine = await LlamaEngine.load(msg.name, msg.path, msg.settings, logger);
      return { contextSize: engine.contextSize, dimensions: null };
    }
    case "unload": {
      const e = engine;
      const m = embedder;
      engine = null;
      embedder = null;
      await e?.dispose();
      await m?.dispose();
      return null;
    }
    case "generate": {
      if (!engine) throw new SovereignError("INTERNAL", "No model is loaded in this runner.");
      if (injectedAbort(modelPath)) process.abort();
      const ac = new AbortController();
      running.set(msg.id, ac);
      const text = new TextCoalescer((t) => send({ type: "text", id: msg.id, text: t }), engine.settings.streamIntervalMs ?? 0);
      try {
        const options = {
          sampling: msg.sampling, grammar: msg.grammar, signal: ac.signal, key: msg.key ?? null,
          onText: (t: string) => text.push(t),
          ...(msg.tools ? { tools: msg.tools, onToolCall: (delta: ToolCallDelta) => { text.flush(); send({ type: "tool", id: msg.id, delta }); } } : {}),
        };
        return msg.mode === "chat"
          ? await engine.chat(msg.messages ?? [], options, msg.defaultMaxTokens)
          : await engine.complete(msg.prompt ?? "", options, msg.defaultMaxTokens);
      } finally {
        // The text goes before the result (or the error) that ends the run.
        text.flush();
        running.delete(msg.id);
      }
    }
    case "cancel":
      running.get(msg.target)?.abort(new Error("cancelled"));
      return null;
    case "embed": {
      if (!embedder) throw new SovereignError("INTERNAL", "No embedding model is loaded in this runner.");
      const out = await embedder.embed(msg.texts);
      return { vectors: out.vectors.map((v) => Array.from(v)), tokens: out.tokens, dimensions: embedder.dimensions };
    }
    case "tokenize":
      if (!engine) throw new SovereignError("INTERNAL", "No model is loaded in this runner.");
      return engine.tokenCount(msg.text);
    case "chatTokens":
      if (!engine) throw new SovereignError("INTERNAL", "No model is loaded in this runner.");
      return engine.chatPromptTokens(msg.messages);
    case "stats": {
      const mem = process.memoryUsage();
      const decodes = engine ? await engine.stats() : { batching: null, threads: null, binary: null, localBuildRefused: null };
      return { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, busySlots: engine?.busySlots ?? 0, model: modelName, ...decodes };
    }
  }
}

process.on("message", (raw) => {
  const msg = raw as NodeToRunner;
  handle(msg).then(
    (value) => send({ type: "ok", id: msg.id, value: value ?? null }),
    (err: unknown) => send({ type: "error", id: msg.id, error: wire(err) }),
  );
});
// The node is gone (or let go of us): nothing may outlive it.
process.on("disconnect", () => process.exit(0));

try {
  // The CPU build is loaded before "ready", so the node measures the runner's baseline with it (prlimit caps over that).
  // A GPU runner (SOVEREIGN_RUNNER_GPU) loads its build with the model, as tune() chose it.
  if (!process.env.SOVEREIGN_RUNNER_GPU) await loadLlama(logger);
  send({ type: "ready", pid: process.pid });
} catch (err) {
  send({ type: "error", id: 0, error: wire(err) });
  process.exitCode = 3;
  process.disconnect?.();
}
