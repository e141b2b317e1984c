import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";

export const repoRoot = join(import.meta.dirname, "..", "..");
export const cliPath = join(repoRoot, "bin", "sovereign.js");

/** Builds dist/ when the sources are newer (npm test builds first, so this is usually instant). */
export function ensureBuilt(): void {
  const r = spawnSync(process.execPath, [join(repoRoot, "scripts", "build-if-needed.js")], { cwd: repoRoot, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}\n${r.stderr}`);
}

/** What a CLI run left: its exit status (null when killed) and its output. */
export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

interface SyncOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  cwd?: string;
}

/** The CLI from the sources, through tsx: no build needed. */
const sourceCliArgs = (args: string[]) => ["--import", "tsx", join(repoRoot, "appliance/cli/main.ts"), ...args];

function runSync(argv: string[], options: SyncOptions): CliResult {
  const r = spawnSync(process.execPath, argv, {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    input: options.input,
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the real CLI (the build in dist/) to completion. */
export function runCli(args: string[], options: SyncOptions = {}): CliResult {
  return runSync([cliPath, ...args], options);
}

/**
 * Runs the CLI from the sources to completion, blocking this process: for tests with no in-process node that must
 * keep serving meanwhile (runSourceCli is for those).
 */
export function runSourceCliSync(args: string[], options: SyncOptions = {}): CliResult {
  return runSync(sourceCliArgs(args), options);
}

/** runSourceCliSync's stdout; a non-zero exit throws with its stderr, so `toThrow(/message/)` reads the CLI's message. */
export function sourceCli(args: string[], options: SyncOptions = {}): string {
  const r = runSourceCliSync(args, options);
  if (r.status !== 0) throw new Error(`sovereign ${args.join(" ")} exited with ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

/**
 * Runs the CLI from the sources (through tsx) without blocking this process: for a test whose nodes run in
 * it and keep serving (federation, HTTP) while the CLI runs, as on a real node. Killed after 120 s.
 */
export function runSourceCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, sourceCliArgs(args), { cwd: repoRoot, env: { ...process.env, ...env }, encoding: "utf8", timeout: 120_000 }, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === "number" ? err.code : null) : 0;
      resolve({ status, stdout, stderr: err && status === null ? `${stderr}\n${err.message}` : stderr });
    });
  });
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  logs: () => string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `sovereign serve` on a free port and resolves once it logs its URL. */
export function startServe(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [cliPath, "serve", "--port", "0", "--log-format", "json", ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`serve did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /"url":"(http:[^"]+)"/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({
          child,
          url: m[1],
          logs: () => out,
          stop: (signal = "SIGTERM") => {
            child.kill(signal);
            return exited;
          },
        });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited early with ${code}:\n${out}`));
    });
  });
}
