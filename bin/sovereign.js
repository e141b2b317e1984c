#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build`.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const entry = join(root, "dist", "appliance", "cli", "main.js");
if (!existsSync(entry)) {
  process.stderr.write("sovereign: the runtime is not built yet. Run `npm run build` in " + root + " first.\n");
  process.exit(1);
}
await import(entry);
