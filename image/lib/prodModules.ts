/**
 * Which node_modules entries ship in the image, from package-lock.json:
 * production entries only, and of the per-platform binary packages only the
 * target's. Pure, so the selection is unit-tested.
 */
export interface LockFile {
  packages: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean; os?: string[]; cpu?: string[] }>;
}

export type TargetArch = "amd64" | "arm64";

const nodeCpu = (arch: TargetArch): string => (arch === "amd64" ? "x64" : "arm64");

/** Packages whose name says they are one platform's binaries. */
const PLATFORM_PACKAGE = /^(@node-llama-cpp\/|sqlite-vec-|@img\/sharp-|@esbuild\/|@rollup\/rollup-)/;

export function productionModules(lock: LockFile, arch: TargetArch): { keep: string[]; dropped: string[] } {
  const keep: string[] = [];
  const dropped: string[] = [];
  const cpu = nodeCpu(arch);
  for (const [path, meta] of Object.entries(lock.packages)) {
    // devOptional: a dev dependency that a production package only names as an optional peer (typescript for node-llama-cpp).
    if (!path.startsWith("node_modules/") || meta.dev || meta.devOptional) continue;
    const name = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    const osOk = !meta.os || meta.os.includes("linux");
    const cpuOk = !meta.cpu || meta.cpu.includes(cpu);
    let platformOk = osOk && cpuOk;
    if (PLATFORM_PACKAGE.test(name)) {
      // @node-llama-cpp/linux-x64-cuda declares cpu x64 too: keep the exact CPU package only (GPU builds are opt-in).
      if (name.startsWith("@node-llama-cpp/")) platformOk = name === `@node-llama-cpp/linux-${cpu}`;
      else platformOk = platformOk && name.includes("linux") && name.includes(cpu);
    }
    (platformOk ? keep : dropped).push(path);
  }
  return { keep: keep.sort(), dropped: dropped.sort() };
}

/** Paths inside the staged app removed after copying: other platforms' binaries, sources only a rebuild needs. */
export function prunePaths(arch: TargetArch): string[] {
  const cpu = nodeCpu(arch);
  const other = cpu === "x64" ? "arm64" : "x64";
  return [
    "node_modules/onnxruntime-node/bin/napi-v6/darwin",
    "node_modules/onnxruntime-node/bin/napi-v6/win32",
    `node_modules/onnxruntime-node/bin/napi-v6/linux/${other}`,
    "node_modules/node-llama-cpp/llama/gitRelease.bundle",
    // A local llama.cpp build made on this host for its own architecture (scripts/build-llama-addon.sh).
    ...["", "-cuda", "-vulkan"].map((gpu) => `node_modules/node-llama-cpp/llama/localBuilds/linux-${other}${gpu}`),
    "node_modules/better-sqlite3/deps",
    "node_modules/better-sqlite3/src",
    "node_modules/better-sqlite3/build/Release/obj.target",
    "node_modules/better-sqlite3/build/Release/.deps",
    "node_modules/better-sqlite3/build/Release/obj",
    "node_modules/better-sqlite3/build/deps",
    "node_modules/better-sqlite3/build/Release/test_extension.node",
  ];
}

/** Native addons that are compiled (not prebuilt) and so must be rebuilt for a foreign target. */
export const compiledAddons = ["better-sqlite3", "unix-dgram"] as const;
