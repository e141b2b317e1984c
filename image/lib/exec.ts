import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync } from "node:fs";
import { SovereignError } from "../../core/errors/SovereignError.js";

const active = new Set<ChildProcess>();

/** Stops every command still running (an interrupted build must not leave tar or mmdebstrap writing). */
export function killActive(): void {
  for (const c of active) c.kill("SIGTERM");
}

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Full output of every command goes here (the build log). */
  logFile?: string;
  /** Called with each line of output, for progress. */
  onLine?: (line: string) => void;
  /** Lower CPU priority: build hosts are shared. */
  nice?: boolean;
}

/**
 * Runs a command, capturing its output. A non-zero exit throws
 * IMAGE_COMMAND_FAILED with the tail of the output, which is what a user
 * needs to see; the full text is in the build log.
 */
export async function exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const argv = opts.nice ? ["-n", "10", cmd, ...args] : [...args];
  const file = opts.nice ? "nice" : cmd;
  if (opts.logFile) appendFileSync(opts.logFile, `\n$ ${cmd} ${args.join(" ")}\n`);
  return await new Promise<string>((resolve, reject) => {
    const child = spawn(file, argv, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: [stdinMode(opts), "pipe", "pipe"] });
    active.add(child);
    child.on("exit", () => active.delete(child));
    const chunks: Buffer[] = [];
    let partial = "";
    const onData = (b: Buffer): void => {
      chunks.push(b);
      if (opts.logFile) appendFileSync(opts.logFile, b);
      if (opts.onLine) {
        partial += b.toString("utf8");
        const lines = partial.split(/\r?\n/);
        partial = lines.pop() ?? "";
        for (const l of lines) if (l.trim()) opts.onLine(l);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("error", (err) => reject(new SovereignError("IMAGE_COMMAND_FAILED", `could not run ${cmd}: ${err.message}`, { cause: err })));
    child.on("close", (code, signal) => {
      const out = Buffer.concat(chunks).toString("utf8");
      if (code === 0) return resolve(out);
      const tail = out.trim().split("\n").slice(-15).join("\n");
      reject(
        new SovereignError("IMAGE_COMMAND_FAILED", `${cmd} ${args.slice(0, 6).join(" ")}… failed (${signal ?? `exit ${code}`}):\n${tail}`, {
          details: { cmd, args: [...args], code, signal },
        }),
      );
    });
    feed(child, opts);
  });
}

/** Runs a command and returns only its stdout (stderr goes to the log). */
export async function capture(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: [stdinMode(opts), "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout?.on("data", (b: Buffer) => (out += b.toString("utf8")));
    child.stderr?.on("data", (b: Buffer) => (err += b.toString("utf8")));
    child.on("error", (e) => reject(new SovereignError("IMAGE_COMMAND_FAILED", `could not run ${cmd}: ${e.message}`)));
    child.on("close", (code) =>
      code === 0 ? resolve(out) : reject(new SovereignError("IMAGE_COMMAND_FAILED", `${cmd} failed (exit ${code}): ${err.trim().slice(-800)}`)),
    );
    feed(child, opts);
  });
}

/** A command with no input gets no stdin pipe at all: one that exits before we
 * write to it would otherwise raise EPIPE (dpkg-query did, in CI). */
function stdinMode(opts: ExecOptions): "pipe" | "ignore" {
  return opts.input === undefined ? "ignore" : "pipe";
}

function feed(child: ChildProcess, opts: ExecOptions): void {
  if (opts.input === undefined || !child.stdin) return;
  // A child may exit without reading all of its input; its exit code says what happened.
  child.stdin.on("error", () => {});
  child.stdin.end(opts.input);
}
