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
  // corepack downloads package managers from the network; the declarations are for editors, not Node.
  "path-exclude=/usr/share/nodejs/corepack/*",
  "path-exclude=/usr/share/nodejs/@types/*",
  "path-exclude=/usr/share/nodejs/*.d.ts",
  // glibc's iconv modules for legacy charsets: Node converts text with ICU, the rest of the system is
  // UTF-8 (built into glibc). The Unicode ones and the module lists stay.
  "path-exclude=/usr/lib/*/gconv/*.so",
  "path-include=/usr/lib/*/gconv/UTF-*.so",
  "path-include=/usr/lib/*/gconv/UNICODE.so",
  // udev's hardware database only names devices and fixes laptop keymaps, touchpads and sensors for a
  // desktop; a headless node needs none of it (storage links and NIC names do not use it). With no
  // sources, udev's postinst builds an empty hwdb.bin, so it stays out of the initramfs too.
  "path-exclude=/usr/lib/udev/hwdb.d/*",
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
 * --enable-source-maps), markdown, C/C++ sources, headers and static
 * archives of addons that are already built, and dotfiles of other tools.
 * License texts stay.
 */
export function isPrunableFile(name: string): boolean {
  if (LICENSE.test(name)) return false;
  if (/\.(ts|mts|cts|map|md|markdown)$/i.test(name)) return true;
  // Sources, headers and static archives of addons that are already built (better-sqlite3's sqlite3.a).
  if (/\.(c|cc|cpp|cxx|h|hh|hpp|a|o)$/.test(name)) return true;
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

/** Filesystems the initramfs needs: root is ext4 (on LUKS, or an A/B verity slot under a RAM overlay), the key stick is FAT. */
export const initrdFilesystems = ["ext4", "jbd2", "mbcache.ko.xz", "mbcache.ko", "mbcache.ko.zst", "fat", "nls", "overlayfs"] as const;

/**
 * An initramfs-tools hook (it runs after MODULES=most has copied its modules,
 * before depmod) that removes modules this initramfs never loads: other
 * filesystems (network ones included) and, unless the disk is unlocked over
 * ssh, networking. Everything that finds the disk and the key stick stays.
 */
export function initrdSlimHook(unlock: string): string {
  const keep = initrdFilesystems.join("|");
  return `#!/bin/sh
# Sovereign image builder: modules this initramfs never loads (image/lib/slim.ts).
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0 ;; esac
cd "\${DESTDIR}/usr/lib/modules/\${version}/kernel" 2>/dev/null || cd "\${DESTDIR}/lib/modules/\${version}/kernel" || exit 0
for d in fs/*; do
  case "\${d#fs/}" in ${keep}) ;; *) rm -rf "$d" ;; esac
done
${unlock === "ssh" ? "# ssh unlock: dropbear needs the network drivers." : "rm -rf drivers/net net drivers/infiniband"}
exit 0
`;
}

/**
 * Inodes for the root filesystem: the tree's files plus a margin for first
 * boot (journal files, keys, state) before it grows. resize2fs keeps the
 * per-group ratio, so a grown filesystem gets proportionally more.
 */
export const inodesFor = (files: number): number => Math.ceil((files * 1.1 + 2048) / 1024) * 1024;
