/**
 * What an offline appliance does not need in its root filesystem. Encrypted
 * sectors do not compress, so every MiB left in the tree is a MiB of the
 * compressed image. Pure data and pure functions; the steps do the I/O.
 */

/**
 * dpkg filters, passed to mmdebstrap as `--dpkgopt` so they hold from the
 * first package on and stay in /etc/dpkg/dpkg.cfg.d for apt on the device.
 * Nothing on the appliance reads docs, manuals or message translations (the
 * node and its logs are English, the locale is C.UTF-8, which lives in
 * /usr/lib/locale). Copyright files are a few KiB and stay.
 */
export const dpkgFilters = [
  "path-exclude=/usr/share/doc/*",
  "path-include=/usr/share/doc/*/copyright",
  "path-exclude=/usr/share/man/*",
  "path-exclude=/usr/share/info/*",
  "path-exclude=/usr/share/locale/*",
  "path-include=/usr/share/locale/locale.alias",
  "path-exclude=/usr/share/lintian/*",
] as const;

/**
 * Directories removed from the root of every package in node_modules: tests,
 * examples, CI config. Only at a package's root, where the name cannot be a
 * runtime module path by accident (`dist/test` stays).
 */
export const pruneDirsAtPackageRoot = [".github", "test", "tests", "__tests__", "example", "examples", "coverage", "benchmark", "benchmarks"] as const;

/** Build intermediates of compiled addons: the .node file is all that loads. */
export const pruneBuildDirs = ["obj.target", ".deps"] as const;

const LICENSE = /^(licen[cs]e|copying|notice)/i;

/**
 * Files dropped anywhere under node_modules. Node 20 runs none of them:
 * TypeScript sources and declarations, source maps (the service runs without
 * --enable-source-maps), markdown, C/C++ sources and headers of addons that
 * are already built, and dotfiles of other tools. License texts stay.
 */
export function isPrunableFile(name: string): boolean {
  if (LICENSE.test(name)) return false;
  if (/\.(ts|mts|cts|map|md|markdown)$/i.test(name)) return true;
  if (/\.(c|cc|cpp|cxx|h|hh|hpp)$/.test(name)) return true;
  return /^\.(travis\.yml|airtap\.yml|eslintrc.*|prettierrc.*|editorconfig|gitattributes|npmignore|nycrc.*|borp\.yaml|taprc|jshintrc)$/.test(name) || name === "appveyor.yml";
}

/** Native code shipped in node_modules: stripped of debug symbols (the dynamic symbols stay). */
export const isNativeObject = (name: string): boolean => /\.(node|so)$|\.so\.\d+$/.test(name);

/** modules.dep as a map from module path to the modules it needs. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    deps.set(line.slice(0, i), line.slice(i + 1).trim().split(/\s+/).filter(Boolean));
  }
  return deps;
}

/**
 * The modules to delete for a board's exclusions (directories under
 * `kernel/`): every module under them, plus every module that needs one of
 * those (it could no longer load), reported separately so the build log
 * shows what went as a consequence.
 */
export function modulesToRemove(deps: ReadonlyMap<string, readonly string[]>, excludeDirs: readonly string[]): { excluded: string[]; dependents: string[] } {
  const prefixes = excludeDirs.map((d) => `kernel/${d.replace(/\/+$/, "")}/`);
  const excluded = [...deps.keys()].filter((m) => prefixes.some((p) => m.startsWith(p)));
  const gone = new Set(excluded);
  // modules.dep lists the full chain of each module, so one pass finds every dependent.
  const dependents = [...deps.entries()].filter(([m, needs]) => !gone.has(m) && needs.some((n) => gone.has(n))).map(([m]) => m);
  return { excluded: excluded.sort(), dependents: dependents.sort() };
}

/**
 * Inodes for the root filesystem: the tree's files plus a margin for first
 * boot (journal files, keys, state) before it grows. resize2fs keeps the
 * per-group ratio, so a grown filesystem gets proportionally more.
 */
export const inodesFor = (files: number): number => Math.ceil((files * 1.1 + 2048) / 1024) * 1024;
