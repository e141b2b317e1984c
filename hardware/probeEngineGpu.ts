import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GpuFacts, HardwareFacts } from "./HardwareFacts.js";

/** What loading node-llama-cpp's GPU build on this machine showed. */
export interface EngineGpuProbe {
  /** The backend whose build loaded; null when none did (or none was tried). */
  backend: "cuda" | "vulkan" | null;
  /** Where the binary came from: node-llama-cpp's "prebuilt" package or a "localBuild" (the image's L4T build). */
  build: string | null;
  /** Why the build did not load, when it was tried. */
  error: string | null;
}

/**
 * The GPU facts after the probe: usable only when node-llama-cpp's build for
 * the GPU loaded here. Pure, so tests apply recorded probe results to fixtures.
 */
export function applyEngineGpuProbe(facts: HardwareFacts, probe: EngineGpuProbe | null): HardwareFacts {
  // A probe speaks only for the kind of GPU that was found.
  if (!probe || facts.gpu.kind === "none" || (probe.backend !== null && probe.backend !== facts.gpu.kind)) return facts;
  const gpu: GpuFacts = probe.backend
    ? { ...facts.gpu, usable: true, backend: probe.backend, note: `node-llama-cpp's ${probe.backend.toUpperCase()} build (${probe.build ?? "prebuilt"}) loaded on this machine` }
    : { ...facts.gpu, usable: false, backend: null, note: `node-llama-cpp's ${facts.gpu.kind.toUpperCase()} build did not load here (${probe.error ?? "no binary"})` };
  return { ...facts, gpu };
}

/** The GPU backend worth probing for these facts; null when there is none (or policy keeps it off). */
export function backendToProbe(gpu: GpuFacts): "cuda" | null {
  // Vulkan on the boards' integrated GPUs stays off (parseFacts says why), so only CUDA is tried.
  return gpu.kind === "cuda" ? "cuda" : null;
}

// Run from a file: node-llama-cpp forks a binary test with the parent's execArgv, which `-e` would break.
const PROBE_SCRIPT = `
const [url, gpu] = process.argv.slice(2);
try {
  const { getLlama } = await import(url);
  const llama = await getLlama({ gpu, dryRun: true, progressLogs: false, logLevel: "error", logger: () => {} });
  process.stdout.write(JSON.stringify({ backend: llama.gpu === gpu ? gpu : null, build: llama.buildType ?? null, error: llama.gpu === gpu ? null : "loaded the " + String(llama.gpu) + " build instead" }));
} catch (err) {
  process.stdout.write(JSON.stringify({ backend: null, build: null, error: String(err?.message ?? err).split("\\n")[0].slice(0, 200) }));
}
`;

/**
 * Asks node-llama-cpp whether its build for the GPU loads on this machine:
 * `getLlama({ gpu, dryRun: true })` in a short-lived child process, so a
 * driver or library that crashes on load never touches the node. Returns
 * null when there is nothing to probe. About a second where it runs.
 */
export async function probeEngineGpu(facts: HardwareFacts, timeoutMs = 60_000): Promise<EngineGpuProbe | null> {
  const gpu = backendToProbe(facts.gpu);
  if (gpu === null) return null;
  const dir = mkdtempSync(join(tmpdir(), "sovereign-gpu-probe-"));
  const script = join(dir, "probe.mjs");
  writeFileSync(script, PROBE_SCRIPT, { mode: 0o600 });
  try {
    const url = import.meta.resolve("node-llama-cpp");
    const out = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, [script, url, gpu], { stdio: ["ignore", "pipe", "ignore"], timeout: timeoutMs });
      let text = "";
      child.stdout.on("data", (d: Buffer) => (text += d.toString("utf8")));
      child.on("error", (err) => resolve(JSON.stringify({ backend: null, build: null, error: err.message })));
      child.on("close", (code, signal) => resolve(text || JSON.stringify({ backend: null, build: null, error: `the probe exited (${signal ?? `code ${String(code)}`})` })));
    });
    const parsed = JSON.parse(out) as Partial<EngineGpuProbe>;
    return { backend: parsed.backend === gpu ? gpu : null, build: parsed.build ?? null, error: parsed.error ?? null };
  } catch (err) {
    return { backend: null, build: null, error: (err as Error).message };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
