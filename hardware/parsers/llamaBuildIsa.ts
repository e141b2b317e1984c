/**
 * What a llama.cpp build made here needs of the CPU. scripts/llama-isa.sh
 * writes `sovereign-isa` beside the build: the cmake flags it compiled with
 * (`-DGGML_AVX2=ON`, ...) and, for a build tuned to the build machine
 * (GGML_NATIVE=ON, as on a Pi), a `cpu-flags:` line with that CPU's flags.
 * A build carried to a CPU that lacks one of them dies of SIGILL at its
 * first matrix product, so the runner checks before loading it.
 */

/** The /proc/cpuinfo flags each ggml x86 option compiles in (ggml/src/ggml-cpu/CMakeLists.txt). */
const GGML_CPU_FLAGS: Record<string, readonly string[]> = {
  GGML_SSE42: ["sse4_2"],
  GGML_AVX: ["avx"],
  GGML_AVX2: ["avx2"],
  GGML_FMA: ["fma"],
  GGML_F16C: ["f16c"],
  GGML_BMI2: ["bmi2"],
  GGML_AVX_VNNI: ["avx_vnni"],
  GGML_AVX512: ["avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"],
  GGML_AVX512_VBMI: ["avx512vbmi"],
  GGML_AVX512_VNNI: ["avx512_vnni"],
  GGML_AVX512_BF16: ["avx512_bf16"],
  GGML_AMX_TILE: ["amx_tile"],
  GGML_AMX_INT8: ["amx_int8"],
  GGML_AMX_BF16: ["amx_bf16"],
};

/** Options that say nothing about the instruction set (kept ON without a requirement). */
const NEUTRAL = new Set(["GGML_NATIVE"]);

/**
 * Arm: GGML_CPU_ARM_ARCH is passed to the compiler as -march. What each base level lets GCC emit, as
 * /proc/cpuinfo's Features name it (Armv8.1 makes LSE atomics, RDMA and CRC32 mandatory; GCC emits
 * LSE atomics for std::atomic from 8.1 up, which a Cortex-A72 lacks), and what each +extension adds.
 * A level or extension not listed here cannot be checked.
 */
const ARM_LEVELS: Record<string, readonly string[]> = {
  "armv8-a": ["fp", "asimd"],
  "armv8.1-a": ["fp", "asimd", "atomics", "asimdrdm", "crc32"],
  "armv8.2-a": ["fp", "asimd", "atomics", "asimdrdm", "crc32"],
};
const ARM_EXTENSIONS: Record<string, readonly string[]> = {
  crc: ["crc32"],
  lse: ["atomics"],
  rdma: ["asimdrdm"],
  crypto: ["aes", "pmull", "sha1", "sha2"],
  aes: ["aes", "pmull"],
  sha2: ["sha1", "sha2"],
  fp16: ["fphp", "asimdhp"],
  dotprod: ["asimddp"],
  i8mm: ["i8mm"],
  bf16: ["bf16"],
  sve: ["sve"],
  sve2: ["sve2"],
};

/** The Features an -march string needs, or what in it is not known. */
export function armArchNeeds(march: string): { needs: string[]; unknown: string[] } {
  const [level = "", ...extensions] = march.split("+");
  const base = ARM_LEVELS[level];
  if (!base) return { needs: [], unknown: [`GGML_CPU_ARM_ARCH=${march} (level ${level})`] };
  const needs = new Set(base);
  const unknown: string[] = [];
  for (const ext of extensions) {
    // "+nofoo" only takes away: nothing to check.
    if (ext.startsWith("no")) continue;
    const flags = ARM_EXTENSIONS[ext];
    if (flags) for (const f of flags) needs.add(f);
    else unknown.push(`GGML_CPU_ARM_ARCH=${march} (+${ext})`);
  }
  return { needs: [...needs], unknown };
}

export interface BuildIsa {
  /** CPU flags the build needs, sorted. */
  needs: string[];
  /** What cannot be checked: an ON option we do not know, or a native build without its CPU's flags. */
  unknown: string[];
}

export function parseBuildIsa(text: string): BuildIsa {
  const needs = new Set<string>();
  const unknown: string[] = [];
  let native = false;
  let recorded = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const cpu = /^cpu-flags:(.*)$/.exec(line);
    if (cpu) {
      recorded = true;
      for (const f of (cpu[1] ?? "").split(/\s+/)) if (f) needs.add(f);
      continue;
    }
    const opt = /^-D(GGML_[A-Z0-9_]+)=(\S+)$/.exec(line);
    if (opt?.[1] === "GGML_CPU_ARM_ARCH") {
      const arm = armArchNeeds(opt[2] ?? "");
      for (const f of arm.needs) needs.add(f);
      unknown.push(...arm.unknown);
      continue;
    }
    if (!opt || !/^(ON|1|TRUE|YES)$/i.test(opt[2] ?? "")) continue;
    const name = opt[1] ?? "";
    if (name === "GGML_NATIVE") native = true;
    const flags = GGML_CPU_FLAGS[name];
    if (flags) for (const f of flags) needs.add(f);
    else if (!NEUTRAL.has(name)) unknown.push(name);
  }
  if (native && !recorded) unknown.push("GGML_NATIVE (the build machine's CPU flags were not recorded)");
  return { needs: [...needs].sort(), unknown };
}

/**
 * Why this CPU cannot run the build, or null when it can. `cpuFlags` are
 * /proc/cpuinfo's flags (x86) or Features (Arm).
 */
export function buildIsaRefusal(isa: BuildIsa, cpuFlags: readonly string[]): string | null {
  if (isa.unknown.length > 0) return `it was built with ${isa.unknown.join(", ")}, which cannot be checked against this CPU`;
  const have = new Set(cpuFlags);
  const missing = isa.needs.filter((f) => !have.has(f));
  if (missing.length === 0) return null;
  return `it was compiled for ${missing.join(", ")}, which this CPU lacks`;
}
