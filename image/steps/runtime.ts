import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { BuildContext } from "../BuildContext.js";
import { buildRuntime } from "../lib/buildRuntime.js";
import { exec, capture } from "../lib/exec.js";
import { gnuTriplet, targetStrip } from "../lib/hostTools.js";
import { compiledAddons, productionModules, prunePaths, type LockFile } from "../lib/prodModules.js";
import { isNativeObject, isPrunableFile, pruneBuildDirs, pruneDirsAtPackageRoot } from "../lib/slim.js";
import { APP_DIR } from "../lib/units.js";
import { defineStep } from "./Step.js";

const hostArch = (): string => (process.arch === "x64" ? "amd64" : process.arch);

/**
 * Step 2: the runtime in /opt/sovereign: dist/ compiled afresh (refused if it does not type-check), the
 * launcher, static web UI, and production node_modules for the target arch.
 * Compiled addons are rebuilt for a foreign target with Debian's cross g++.
 */
export const runtimeStep = defineStep({
  name: "runtime",
  title: "Install the runtime in /opt/sovereign",
  needs: ["bootstrap"],
  async run(ctx) {
    const repo = ctx.options.repoRoot;
    // Compiled afresh for every image: a tree that does not type-check stops the build here.
    const dist = join(ctx.work, "runtime-dist");
    ctx.progress("compiling the runtime (tsc; a type error stops the build)");
    await buildRuntime(repo, dist, ctx.logFile);
    const app = join(ctx.rootfs, APP_DIR.slice(1));
    rmSync(app, { recursive: true, force: true });
    mkdirSync(app, { recursive: true });
    cpSync(dist, join(app, "dist"), { recursive: true });
    for (const p of ["bin", "package.json", "package-lock.json", "web-ui/static", "README.md"]) {
      if (existsSync(join(repo, p))) cpSync(join(repo, p), join(app, p), { recursive: true, dereference: false });
    }

    const lock = JSON.parse(readFileSync(join(repo, "package-lock.json"), "utf8")) as LockFile;
    const { keep } = productionModules(lock, ctx.board.arch);
    const missing: string[] = [];
    for (const path of keep) {
      const src = join(repo, path);
      if (!existsSync(src)) {
        missing.push(path.slice("node_modules/".length));
        continue;
      }
      // Nested node_modules come with their parent; copying them again is harmless but slow.
      if (path.split("node_modules/").length > 2 && existsSync(join(app, path))) continue;
      cpSync(src, join(app, path), { recursive: true, filter: (s) => !s.endsWith("/.bin") });
    }
    for (const p of prunePaths(ctx.board.arch)) rmSync(join(app, p), { recursive: true, force: true });

    if (ctx.board.arch !== hostArch()) await crossBuildAddons(ctx, app);
    const before = Number((await capture("du", ["-sb", app])).split("\t")[0]);
    const native = pruneNodeModules(join(app, "node_modules"));
    await stripNative(ctx, native);
    const bytes = Number((await capture("du", ["-sb", app])).split("\t")[0]);
    const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { version: string };
    // --version (a bundle's, or an image's): the node reports it as its running version (core/packageVersion.ts).
    if (ctx.options.version && ctx.options.version !== pkg.version) writeFileSync(join(app, "package.json"), `${JSON.stringify({ ...pkg, version: ctx.options.version }, null, 2)}\n`);
    const version = ctx.options.version ?? pkg.version;
    ctx.progress(`runtime ${version}: ${(bytes / 1024 ** 2).toFixed(0)} MiB (${((before - bytes) / 1024 ** 2).toFixed(0)} MiB of tests, types, maps and symbols pruned), ${keep.length} modules`);
    // Optional per-platform packages npm skipped on this host (e.g. sqlite-vec-linux-arm64 on an x64 host) are not in the image.
    if (missing.length > 0) ctx.progress(`warning: not installed on the build host, so not in the image: ${missing.join(", ")}`);
    return { version, bytes, nodeModules: keep.map((k) => k.slice("node_modules/".length)) };
  },
});

type Level = "modules" | "scope" | "package" | "inner";
const childLevel = (level: Level, name: string): Level =>
  level === "modules" ? (name.startsWith("@") ? "scope" : "package") : level === "scope" ? "package" : name === "node_modules" ? "modules" : "inner";

/** Removes what Node never loads (./lib/slim.ts says what and why); returns the native objects left. */
export function pruneNodeModules(dir: string): string[] {
  const native: string[] = [];
  const walk = (d: string, level: Level): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        const atRoot = level === "package" && (pruneDirsAtPackageRoot as readonly string[]).includes(e.name);
        if (atRoot || (pruneBuildDirs as readonly string[]).includes(e.name)) rmSync(p, { recursive: true, force: true });
        else walk(p, childLevel(level, e.name));
      } else if (e.isFile()) {
        if (isPrunableFile(e.name)) rmSync(p, { force: true });
        else if (isNativeObject(e.name)) native.push(p);
      }
    }
  };
  walk(dir, "modules");
  return native;
}

/** Prebuilt binaries ship their debug symbols; the target's strip removes them (dynamic symbols stay). */
async function stripNative(ctx: BuildContext, files: string[]): Promise<void> {
  const strip = targetStrip(ctx.board.arch, ctx.board.arch !== hostArch());
  for (const f of files) await exec(strip, ["--strip-unneeded", f], { logFile: ctx.logFile }).catch(() => ctx.progress(`warning: ${strip} could not strip ${f}`));
}

/**
 * better-sqlite3 and unix-dgram compile from source (their prebuilt downloads
 * are unreachable offline). For arm64 they are cross-compiled with
 * g++-aarch64-linux-gnu against the host's Node headers (same major: the ABI).
 */
async function crossBuildAddons(ctx: BuildContext, app: string): Promise<void> {
  const triplet = gnuTriplet(ctx.board.arch);
  const cxx = `${triplet}-g++`;
  try {
    await capture("sh", ["-c", `command -v ${cxx}`]);
  } catch {
    throw new SovereignError("IMAGE_HOST_TOOL_MISSING", `cross compiler ${cxx} is missing (native addons must be built for ${ctx.board.arch})`, {
      hint: `apt-get install g++-${triplet.replace(/_/g, "-")}`,
    });
  }
  const candidates = [
    join(ctx.options.repoRoot, "node_modules/node-gyp/bin/node-gyp.js"),
    "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
    "/usr/share/nodejs/node-gyp/bin/node-gyp.js",
  ];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new SovereignError("IMAGE_HOST_TOOL_MISSING", "node-gyp is missing (needed to cross-compile native addons)", { hint: "apt-get install node-gyp" });
  const gyp = [found];
  const nodedir = process.env.npm_config_nodedir ?? "/usr";
  for (const addon of compiledAddons) {
    const dir = join(app, "node_modules", addon);
    if (!existsSync(dir)) continue;
    ctx.progress(`cross-compiling ${addon} for ${ctx.board.arch}`);
    // Sources were pruned from the staged copy; build from the repo's copy into a scratch dir.
    const scratch = join(ctx.work, `addon-${addon}`);
    rmSync(scratch, { recursive: true, force: true });
    cpSync(join(ctx.options.repoRoot, "node_modules", addon), scratch, { recursive: true });
    rmSync(join(scratch, "build"), { recursive: true, force: true });
    await exec(process.execPath, [...gyp, "rebuild", `--arch=${ctx.board.arch === "arm64" ? "arm64" : "x64"}`, `--nodedir=${nodedir}`, "--release"], {
      cwd: scratch,
      logFile: ctx.logFile,
      nice: true,
      // NODE_PATH lets binding.gyp's `node -e "require('nan')"` find the repo's build-time helpers from the scratch copy.
      env: { ...process.env, NODE_PATH: join(ctx.options.repoRoot, "node_modules"), CC: `${triplet}-gcc`, CXX: cxx, LINK: cxx, AR: `${triplet}-ar`, npm_config_build_from_source: "true" },
    });
    rmSync(join(dir, "build"), { recursive: true, force: true });
    mkdirSync(join(dir, "build/Release"), { recursive: true });
    await exec("sh", ["-c", `cp ${join(scratch, "build/Release")}/*.node ${join(dir, "build/Release")}/ && ${triplet}-strip --strip-unneeded ${join(dir, "build/Release")}/*.node`], { logFile: ctx.logFile });
    const file = await capture("sh", ["-c", `file -b ${join(dir, "build/Release")}/*.node | head -1`]).catch(() => "?");
    ctx.progress(`${addon}: ${file.trim()}`);
  }
}
