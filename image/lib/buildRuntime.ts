import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { exec } from "./exec.js";

/**
 * Compiles the runtime for an image into a fresh `outDir` with tsconfig.build.json and
 * `--noEmitOnError`: a tree that does not type-check emits nothing and the build stops,
 * so an image never ships such a dist/. The checkout's own dist/ is neither used nor
 * touched, so stale output of deleted sources cannot reach the image either.
 */
export async function buildRuntime(repo: string, outDir: string, logFile?: string): Promise<void> {
  const tsc = join(repo, "node_modules", "typescript", "bin", "tsc");
  if (!existsSync(tsc)) {
    throw new SovereignError("IMAGE_HOST_TOOL_MISSING", `TypeScript is not installed in ${repo} (no ${tsc})`, { hint: "Run `npm ci` in the checkout, then build again." });
  }
  rmSync(outDir, { recursive: true, force: true });
  const args = [tsc, "-p", join(repo, "tsconfig.build.json"), "--outDir", outDir, "--noEmitOnError", "--pretty", "false"];
  try {
    await exec(process.execPath, args, { cwd: repo, ...(logFile ? { logFile } : {}), nice: true });
  } catch (err) {
    const detail = err instanceof Error ? err.message.slice(err.message.indexOf("\n") + 1) : String(err);
    throw new SovereignError("IMAGE_COMMAND_FAILED", `the runtime does not type-check, so it is not packaged (run \`npm run typecheck\`):\n${detail}`, { cause: err });
  }
  // tsc compiles whatever the runtime imports; test or bench code there means a runtime file imports it.
  const strays = ["test", "bench", "scripts"].filter((d) => existsSync(join(outDir, d)));
  if (strays.length > 0) {
    throw new SovereignError("IMAGE_COMMAND_FAILED", `runtime code imports from ${strays.map((d) => `${d}/`).join(", ")}, which the image must not ship; find the import with \`grep -rn "${strays[0]}/" core appliance hardware services image web-ui\``);
  }
}
