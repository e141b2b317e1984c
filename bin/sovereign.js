#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/. In a fresh git checkout (dist/ missing) it
// builds first, so `npx sovereign …` works right after `npm ci`; the image ships dist/ built.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const entry = join(root, "dist", "appliance", "cli", "main.js");
const builder = join(root, "scripts", "build-if-needed.js");
if (!existsSync(entry) && existsSync(builder)) {
  const { buildIfNeeded } = await import(pathToFileURL(builder).href);
  if (!buildIfNeeded()) process.exit(1);
}
if (!existsSync(entry)) {
  process.stderr.write("sovereign: the runtime is not built yet. Run `npm run build` in " + root + " first.\n");
  process.exit(1);
}
await import(pathToFileURL(entry).href);
