import { execFile } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import type { EngineLogger } from "../InferenceEngine.js";

const run = promisify(execFile);

/** How a runner's memory is capped: the best means this machine offers. */
export interface MemoryCapper {
  readonly via: string;
  /** Caps the runner `pid` to `bytes` of model memory before it loads anything. */
  apply(pid: number): Promise<void>;
  /** Whether the kernel killed the runner for going over its cap (known for cgroups only). */
  oomKilled(pid: number): boolean;
  /** Cleans up after the runner exited. */
  release(pid: number): void;
  readonly bytes: number;
  /** Environment the runner needs under this cap. */
  readonly env: Record<string, string>;
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(delimiter)) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

const MiB = 1024 * 1024;

/**
 * cgroup v2 with a delegated subtree (sovereign.service has Delegate=, so the
 * service user owns its cgroup): the node moves itself into a leaf "node",
 * enables the memory controller below its cgroup, and puts each runner into
 * a leaf of its own with memory.max and no swap. The kernel then OOM-kills
 * the runner, and only the runner, when a load goes over.
 */
class CgroupCapper implements MemoryCapper {
  readonly via: string;
  readonly env = {};
  constructor(private readonly base: string, readonly bytes: number) {
    this.via = `cgroup v2 memory.max under ${base}`;
  }

  static detect(bytes: number): CgroupCapper | null {
    const root = "/sys/fs/cgroup";
    if (!existsSync(join(root, "cgroup.controllers"))) return null;
    const line = readFileSync("/proc/self/cgroup", "utf8").split("\n").find((l) => l.startsWith("0::"));
    const path = line?.slice(3).trim();
    if (!path || path === "/") return null;
    const base = join(root, path.endsWith("/node") ? path.slice(0, -5) : path);
    try {
      accessSync(base, constants.W_OK);
      accessSync(join(base, "cgroup.subtree_control"), constants.W_OK);
      if (!readFileSync(join(base, "cgroup.controllers"), "utf8").split(/\s+/).includes("memory")) return null;
      // Another process shares our cgroup (a login shell's scope): moving ourselves would not be ours to do.
      const procs = readFileSync(join(base, "cgroup.procs"), "utf8").split("\n").filter((p) => p.trim() !== "");
      if (procs.some((p) => Number(p) !== process.pid)) return null;
      if (!path.endsWith("/node")) {
        mkdirSync(join(base, "node"), { recursive: true });
        writeFileSync(join(base, "node", "cgroup.procs"), String(process.pid));
      }
      if (!readFileSync(join(base, "cgroup.subtree_control"), "utf8").includes("memory")) writeFileSync(join(base, "cgroup.subtree_control"), "+memory");
      return new CgroupCapper(base, bytes);
    } catch {
      return null;
    }
  }

  private dir(pid: number): string {
    return join(this.base, `runner-${pid}`);
  }

  async apply(pid: number): Promise<void> {
    const d = this.dir(pid);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "memory.max"), String(this.bytes));
    try {
      writeFileSync(join(d, "memory.swap.max"), "0");
    } catch {
      // no swap accounting on this kernel
    }
    writeFileSync(join(d, "cgroup.procs"), String(pid));
  }

  oomKilled(pid: number): boolean {
    try {
      const m = /oom_kill (\d+)/.exec(readFileSync(join(this.dir(pid), "memory.events"), "utf8"));
      return Number(m?.[1] ?? 0) > 0;
    } catch {
      return false;
    }
  }

  release(pid: number): void {
    try {
      rmdirSync(this.dir(pid));
    } catch {
      // still busy or already gone
    }
  }
}

/**
 * Development (no delegated cgroup): util-linux prlimit sets RLIMIT_AS on the
 * running runner, once it has loaded the llama.cpp binding, to its address
 * space at that moment plus the model budget and room for thread stacks. A
 * load that goes over fails its allocations in the runner. Address space is
 * not RAM (a GPU driver maps far more than it uses), so it is never used with
 * GPU offload.
 */
class PrlimitCapper implements MemoryCapper {
  readonly via: string;
  // glibc reserves 64 MiB of address space per malloc arena (one per thread): keep them few, so the cap measures the model.
  readonly env = { MALLOC_ARENA_MAX: "2" };
  constructor(private readonly prlimit: string, readonly bytes: number, private readonly slackBytes: number) {
    this.via = "prlimit RLIMIT_AS (address space)";
  }

  async apply(pid: number): Promise<void> {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const vmKb = Number(/VmSize:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    if (!Number.isFinite(vmKb)) throw new Error(`cannot read the address space of runner ${pid}`);
    const limit = vmKb * 1024 + this.bytes + this.slackBytes;
    await run(this.prlimit, ["--pid", String(pid), `--as=${limit}:${limit}`]);
  }

  oomKilled(): boolean {
    return false;
  }

  release(): void {}
}

/**
 * The memory cap runners get: `budgetMb` (tune()'s model RAM budget) through
 * a delegated cgroup when the node runs under systemd, else through prlimit,
 * else none (the reason is logged once).
 */
export function detectMemoryCap(budgetMb: number, options: { gpu: boolean; threads: number; logger?: EngineLogger }): MemoryCapper | null {
  const bytes = Math.round(budgetMb * MiB);
  if (process.platform !== "linux") return null;
  const cg = CgroupCapper.detect(bytes);
  if (cg) return cg;
  const prlimit = onPath("prlimit");
  if (prlimit && !options.gpu) return new PrlimitCapper(prlimit, bytes, 256 * MiB + options.threads * 16 * MiB);
  options.logger?.warn({ gpu: options.gpu, prlimit: prlimit !== null }, "runners run without a memory cap: no delegated cgroup v2 and no usable prlimit");
  return null;
}
