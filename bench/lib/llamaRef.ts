// The reference side of bench/llamaRef.bench.ts: llama.cpp's own llama-server and llama-bench, built
// from the source node-llama-cpp bundles (scripts/build-llama-ref.sh, cached in .cache/llama-ref/<tag>).
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { BUILD_ISA_FILE, llamaLocalBuildDir } from "../../hardware/llamaLocalBuild.js";

const root = join(import.meta.dirname, "..", "..");
const script = join(root, "scripts", "build-llama-ref.sh");

export interface LlamaRef {
  bin: string;
  server: string;
  bench: string;
  /** The llama.cpp commit the binaries were built from (the bundle's HEAD). */
  commit: string | null;
  /** The instruction-set flags of the build (cmake -D options). */
  isa: string[] | null;
}

function refAt(bin: string): LlamaRef {
  const read = (f: string) => (existsSync(join(bin, "..", f)) ? readFileSync(join(bin, "..", f), "utf8").trim() : null);
  return { bin, server: join(bin, "llama-server"), bench: join(bin, "llama-bench"), commit: read("commit"), isa: read("isa")?.split("\n") ?? null };
}

/**
 * The instruction-set flags of the local llama.cpp build this node loads (scripts/build-llama-addon.sh writes them
 * beside it), or null for none. CI installs it for the x86_64 board's CPU (no AVX-512), while the reference is
 * compiled for this host's: the result says which each side ran.
 */
export function localBuildIsa(): string[] | null {
  const file = join(llamaLocalBuildDir(false), BUILD_ISA_FILE);
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : null;
}

const built = (bin: string): boolean => existsSync(join(bin, "llama-server")) && existsSync(join(bin, "llama-bench"));

/** The reference binaries if scripts/build-llama-ref.sh has built them, without building. */
export function existingLlamaRef(): LlamaRef | null {
  const bin = execFileSync(script, ["--print-dir"], { encoding: "utf8" }).trim();
  return built(bin) ? refAt(bin) : null;
}

/** The reference binaries, built first when missing (10-25 minutes on 2 cores; the build's output goes to stderr). */
export function llamaRefBinaries(): LlamaRef {
  let bin = execFileSync(script, ["--print-dir"], { encoding: "utf8" }).trim();
  if (!built(bin)) {
    console.log(`llama-ref: building llama-server and llama-bench into ${bin} (once)…`);
    bin = execFileSync(script, [], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop() ?? bin;
  }
  return refAt(bin);
}

/**
 * llama-bench: generation (tg) or prompt (pp) tokens/s at `threads`, one repetition. Asynchronous: the
 * node under test shares this process's event loop, and a blocked loop reads as overload (503).
 */
export async function llamaBench(ref: LlamaRef, model: string, threads: number, what: { pp?: number; tg?: number }): Promise<{ pp: number; tg: number }> {
  const { stdout: out } = await promisify(execFile)(ref.bench, ["-m", model, "-t", String(threads), "-p", String(what.pp ?? 0), "-n", String(what.tg ?? 0), "-r", "1", "-o", "json"], { encoding: "utf8" });
  const rows = JSON.parse(out) as Array<{ n_prompt: number; n_gen: number; avg_ts: number }>;
  return { pp: rows.find((r) => r.n_prompt > 0)?.avg_ts ?? NaN, tg: rows.find((r) => r.n_gen > 0)?.avg_ts ?? NaN };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export interface LlamaServer {
  url: string;
  key: string;
  close(): Promise<void>;
}

/** Starts llama-server on a free loopback port and waits until /health answers 200. */
export async function startLlamaServer(ref: LlamaRef, model: string, o: { slots: number; ctxPerSlot: number; threads: number; batchThreads: number; batchSize: number }): Promise<LlamaServer> {
  const port = await freePort();
  const args = [
    "-m", model, "--host", "127.0.0.1", "--port", String(port), "-np", String(o.slots), "-c", String(o.slots * o.ctxPerSlot),
    "-t", String(o.threads), "-tb", String(o.batchThreads), "-b", String(o.batchSize), "-ngl", "0", "--no-webui", "--log-disable",
  ];
  const child: ChildProcess = spawn(ref.server, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`llama-server exited (${child.exitCode ?? child.signalCode}): ${stderr}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`llama-server did not become healthy in 180 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url, key: "",
    close: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    }),
  };
}

/** A competing process: one busy-looping child, i.e. one core taken. */
export function busyLoop(): { stop(): void } {
  const child = spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" });
  return { stop: () => void child.kill("SIGKILL") };
}
