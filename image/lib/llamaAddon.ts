import { basename } from "node:path";
import { buildIsaRefusal, parseBuildIsa } from "../../hardware/parsers/llamaBuildIsa.js";
import type { BoardProfile } from "../boards/BoardProfile.js";
import { targetStrip } from "./hostTools.js";

/** The check script's name in /opt/sovereign while the step runs it (removed after). */
export const LLAMA_CHECK_SCRIPT = ".llama-check.mjs";

/** Models above this are not generated with under qemu-user: 4 tokens of a 600 MB model take minutes there. */
export const LLAMA_CHECK_MAX_MODEL_BYTES = 64 * 1024 ** 2;

export interface LlamaAddonPlan {
  /** node-llama-cpp's name for the target architecture, and its local build folder (linux-<arch>). */
  arch: "x64" | "arm64";
  folder: string;
  cross: boolean;
  isa: readonly string[];
  /** The target's strip (the build host's own for a native build). */
  strip: string;
  /** qemu-user's CPU model for the check in the rootfs; undefined when it runs natively. */
  qemuCpu: string | undefined;
  /** Why the build is not tried in the rootfs (a native build on a host without the board's instruction sets), or null. */
  notTried: string | null;
  /** The smallest --model, when small enough to generate with in the check. */
  model: string | undefined;
  modelName: string | undefined;
}

/** What the step does for this board on this host (pure: the step and its tests share it). */
export function planLlamaAddon(board: BoardProfile, host: { arch: string; cpuFlags: readonly string[] }, models: readonly { path: string; bytes: number }[]): LlamaAddonPlan {
  const arch = board.arch === "arm64" ? "arm64" : "x64";
  const cross = arch !== host.arch;
  const smallest = [...models].sort((a, b) => a.bytes - b.bytes)[0];
  const model = smallest && smallest.bytes <= LLAMA_CHECK_MAX_MODEL_BYTES ? smallest.path : undefined;
  return {
    arch, folder: `linux-${arch}`, cross, isa: board.llamaCpu.isa,
    strip: targetStrip(board.arch, cross),
    // Natively the host's CPU runs it (the build host must have the board's instruction sets for the check).
    qemuCpu: cross ? board.llamaCpu.qemuCpu : undefined,
    notTried: cross ? null : refusedHere(board.llamaCpu.isa, host.cpuFlags),
    model, modelName: model ? basename(model) : undefined,
  };
}

function refusedHere(isa: readonly string[], cpuFlags: readonly string[]): string | null {
  const refusal = buildIsaRefusal(parseBuildIsa(isa.join("\n")), cpuFlags);
  return refusal ? `this build host cannot run it: ${refusal}` : null;
}

/** NAME and VERSION_ID of an os-release file, as node-llama-cpp's getPlatformInfo reads them. */
export function parseOsRelease(text: string): { name: string; version: string } {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq < 1) continue;
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    fields.set(line.slice(0, eq).trim().toLowerCase(), value);
  }
  return { name: fields.get("name") ?? "", version: fields.get("version_id") ?? fields.get("version") ?? "" };
}

export interface LlamaCheck {
  buildType: string | null;
  systemInfo: string;
  /** Tokens generated, or null when no model was given. */
  generated: number | null;
}

/** The check script's result line (`LLAMA_CHECK {json}`) from its output. */
export function parseLlamaCheck(output: string): LlamaCheck {
  const line = output.split("\n").reverse().find((l) => l.startsWith("LLAMA_CHECK "));
  if (!line) return { buildType: null, systemInfo: "", generated: null };
  const r = JSON.parse(line.slice("LLAMA_CHECK ".length)) as Partial<LlamaCheck>;
  return { buildType: r.buildType ?? null, systemInfo: r.systemInfo ?? "", generated: typeof r.generated === "number" ? r.generated : null };
}
