import { fork, type ChildProcess } from "node:child_process";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import type { EngineLogger } from "../InferenceEngine.js";
import type { ToolCallDelta } from "../types.js";
import type { NodeToRunner, RunnerOp, RunnerResults, RunnerToNode, WireError } from "./protocol.js";
import { describeExit, type RunnerExit } from "./crashReason.js";

export interface RunnerProcessOptions {
  /** How often the node pings the runner. Defaults to 1000 ms. */
  heartbeatMs?: number;
  /** A runner that answers no ping for this long is killed (SIGKILL) and counts as crashed. Defaults to 5000 ms. */
  heartbeatTimeoutMs?: number;
  /** Longest wait for a new runner to load the llama.cpp binding. Defaults to 60 s. */
  startTimeoutMs?: number;
  /** Extra environment for the runner. */
  env?: Record<string, string>;
  logger?: EngineLogger;
}

/** Rejected into every request in flight when the runner dies. */
export class RunnerDied extends Error {
  constructor(readonly exit: RunnerExit) {
    super("the runner process ended");
    this.name = "RunnerDied";
  }
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
  onText?: ((text: string) => void) | undefined;
  onToolCall?: ((delta: ToolCallDelta) => void) | undefined;
}

const STDERR_KEEP = 16 * 1024;

/**
 * The compiled runner next to this file: runnerMain.js under dist (npm start,
 * the image), or runnerMain.ts when the node itself runs from source (vitest,
 * tsx), in which case the child needs tsx too, resolved from the repository root.
 */
export function runnerEntry(): { file: string; execArgv: string[]; cwd: string } {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const file = join(dirname(here), `runnerMain${ext === ".ts" ? ".ts" : ".js"}`);
  const root = resolve(dirname(here), ext === ".ts" ? "../../.." : "../../../..");
  return { file, execArgv: ext === ".ts" ? ["--import", "tsx"] : [], cwd: root };
}

function fromWire(e: WireError): SovereignError {
  return new SovereignError(e.code as SovereignError["code"], e.message, { ...(e.details ? { details: e.details } : {}), ...(e.hint ? { hint: e.hint } : {}) });
}

/**
 * One runner child process: IPC requests with ids, streamed text, a heartbeat,
 * and what it said on stderr when it died. It never takes the node with it:
 * its death rejects the requests in flight with RunnerDied.
 */
export class RunnerProcess {
  readonly pid: number;
  /** Resolves once, when the child has exited, with how it ended. */
  readonly exited: Promise<RunnerExit>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderr = "";
  /** llama.cpp's recent log lines (they come over IPC, not stderr): why a load failed. */
  private logs: string[] = [];
  private exit: RunnerExit | null = null;
  private heartbeatLost = false;
  private expected = false;
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly child: ChildProcess, private readonly opts: RunnerProcessOptions) {
    this.pid = child.pid ?? -1;
    child.stderr?.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-STDERR_KEEP);
    });
    child.stdout?.on("data", (d: Buffer) => opts.logger?.debug({ runner: this.pid }, d.toString().trim()));
    child.on("message", (m) => this.onMessage(m as RunnerToNode));
    this.exited = new Promise((resolveExit) => {
      child.on("exit", (code, signal) => {
        // stderr may still be draining: give it a moment, so the assert text is in the tail.
        const done = () => {
          clearInterval(this.timer);
          this.exit = { code, signal, heartbeatLost: this.heartbeatLost, expected: this.expected, stderrTail: this.stderr };
          const died = new RunnerDied(this.exit);
          for (const p of this.pending.values()) p.reject(died);
          this.pending.clear();
          resolveExit(this.exit);
        };
        if (child.stderr && !child.stderr.readableEnded) {
          const t = setTimeout(done, 200);
          child.stderr.once("end", () => { clearTimeout(t); done(); });
        } else done();
      });
    });
    child.on("error", (err) => opts.logger?.warn({ err, runner: this.pid }, "runner process error"));
  }

  /** Starts a runner and waits until it has loaded the llama.cpp binding. */
  static async start(opts: RunnerProcessOptions = {}): Promise<RunnerProcess> {
    const entry = runnerEntry();
    const child = fork(entry.file, [], {
      execArgv: entry.execArgv, cwd: entry.cwd, stdio: ["ignore", "pipe", "pipe", "ipc"], serialization: "json",
      env: { ...process.env, ...opts.env },
    });
    const runner = new RunnerProcess(child, opts);
    let onMessage: ((m: RunnerToNode) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolveReady, reject) => {
        onMessage = (m: RunnerToNode) => {
          if (m.type === "ready") resolveReady();
          else if (m.type === "error" && m.id === 0) reject(fromWire(m.error));
        };
        child.on("message", onMessage);
        void runner.exited.then((exit) => reject(new RunnerDied(exit)));
        timer = setTimeout(() => reject(new SovereignError("ENGINE_UNAVAILABLE", `A runner did not start within ${Math.round((opts.startTimeoutMs ?? 60_000) / 1000)} s.`)), opts.startTimeoutMs ?? 60_000);
      });
    } catch (err) {
      runner.kill();
      if (err instanceof RunnerDied) throw new SovereignError("ENGINE_UNAVAILABLE", `A runner could not start: ${describeExit(err.exit)}.`, { cause: err });
      throw err;
    } finally {
      clearTimeout(timer);
      if (onMessage) child.off("message", onMessage);
    }
    runner.startHeartbeat();
    return runner;
  }

  /** The last lines llama.cpp logged in this runner. */
  recentLogs(): string[] {
    return [...this.logs];
  }

  get alive(): boolean {
    return this.exit === null;
  }

  /**
   * Sends one request. `onText` receives a generation's streamed text;
   * `onId` gets the request's id at once (to cancel that generation).
   */
  request<K extends RunnerOp>(
    op: K,
    body: Omit<Extract<NodeToRunner, { op: K }>, "id" | "op">,
    hooks: { onText?: (text: string) => void; onToolCall?: (delta: ToolCallDelta) => void; onId?: (id: number) => void } = {},
  ): Promise<RunnerResults[K]> {
    if (this.exit) return Promise.reject(new RunnerDied(this.exit));
    const id = this.nextId++;
    hooks.onId?.(id);
    return new Promise<RunnerResults[K]>((resolveReq, reject) => {
      this.pending.set(id, { resolve: resolveReq as (v: unknown) => void, reject, onText: hooks.onText, onToolCall: hooks.onToolCall });
      this.child.send({ ...body, op, id } as NodeToRunner, (err) => {
        if (!err || !this.pending.has(id)) return;
        // The channel broke: the runner is dead or dying (its exit may not be handled yet). A runner
        // we cannot talk to is no use, so it is ended, and the request fails as its death.
        this.pending.delete(id);
        this.kill();
        void this.exited.then((exit) => reject(new RunnerDied(exit)));
      });
    });
  }

  private onMessage(m: RunnerToNode): void {
    if (m.type === "log") {
      this.logs.push(m.message.trim());
      if (this.logs.length > 20) this.logs.shift();
      const log = m.level === "warn" ? this.opts.logger?.warn : m.level === "error" ? (this.opts.logger?.error ?? this.opts.logger?.warn) : this.opts.logger?.debug;
      log?.call(this.opts.logger, { runner: this.pid }, m.message.trim());
      return;
    }
    if (m.type === "ready") return;
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === "text") {
      p.onText?.(m.text);
      return;
    }
    if (m.type === "tool") {
      p.onToolCall?.(m.delta);
      return;
    }
    this.pending.delete(m.id);
    if (m.type === "ok") p.resolve(m.value);
    else p.reject(fromWire(m.error));
  }

  /**
   * Pings the runner; one that leaves a ping unanswered for the timeout (a
   * SIGSTOP, a wedged native call holding its event loop) is killed, so its
   * exit is handled like any crash. A node whose own event loop was held up
   * does not blame the runner for the answers it could not read.
   */
  private startHeartbeat(): void {
    const every = this.opts.heartbeatMs ?? 1000;
    const timeout = this.opts.heartbeatTimeoutMs ?? 5000;
    let lastAnswer = Date.now();
    let lastTick = Date.now();
    let waiting = false;
    this.timer = setInterval(() => {
      const now = Date.now();
      if (now - lastTick > every * 3) lastAnswer = now;
      lastTick = now;
      if (now - lastAnswer > timeout) {
        this.heartbeatLost = true;
        this.opts.logger?.warn({ runner: this.pid, silentMs: now - lastAnswer }, "runner stopped answering its heartbeat; killing it");
        this.kill();
        return;
      }
      if (waiting) return;
      waiting = true;
      this.request("ping", {}).then(() => { lastAnswer = Date.now(); }, () => undefined).finally(() => { waiting = false; });
    }, every);
    this.timer.unref();
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.exit) return;
    try {
      this.child.kill(signal);
    } catch {
      // already gone
    }
  }

  /** Ends the runner on purpose: closes the channel (it exits), then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exit) return;
    this.expected = true;
    clearInterval(this.timer);
    if (this.child.connected) this.child.disconnect();
    const t = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}
