import { chownSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sha256File } from "../../core/fs/sha256File.js";
import { ggufModelEntry, type ModelEntry } from "../../core/models/modelEntry.js";
import { defineStep, skip } from "./Step.js";
import type { FileDigest } from "../StepOutputs.js";
import { checkGguf } from "../lib/ggufCheck.js";
import { DATA_DIR, SERVICE_USER } from "../lib/units.js";

/**
 * Step 5: --model files into <dataDir>/models with the registry's own
 * manifest (name, kind, architecture, sha256, …), so the node serves them as
 * if an admin had added them; owned by the service user that configure made.
 */
export const modelsStep = defineStep({
  name: "models",
  title: "Install models into the data directory",
  needs: ["configure"],
  async run(ctx) {
    if (ctx.options.models.length === 0) return skip("no --model given", { models: [] });
    // All of them checked before the first copy (preflight checked them too; the files may have changed).
    const checked = ctx.options.models.map((m) => ({ path: m, ...checkGguf(m) }));
    const models: FileDigest[] = [];
    const entries: ModelEntry[] = [];
    const dir = join(ctx.rootfs, DATA_DIR.slice(1), "models");
    const passwd = readFileSync(join(ctx.rootfs, "etc/passwd"), "utf8").split("\n").find((l) => l.startsWith(`${SERVICE_USER}:`))?.split(":") ?? [];
    const uid = Number(passwd[2]);
    const gid = Number(passwd[3]);
    for (const { path: m, info, name } of checked) {
      ctx.progress(`model ${name} (${(info.fileSize / 1024 ** 2).toFixed(0)} MiB)`);
      const file = `${name}.gguf`;
      const dest = join(dir, file);
      copyFileSync(m, dest);
      chownSync(dest, uid, gid);
      const sha256 = await sha256File(dest);
      entries.push(ggufModelEntry(info, { name, file, sha256, source: "image build" }));
      models.push({ file, sha256, bytes: info.fileSize });
    }
    const manifest = join(dir, "manifest.json");
    writeFileSync(manifest, `${JSON.stringify({ version: 1, defaultModel: null, models: entries }, null, 2)}\n`, { mode: 0o600 });
    chownSync(manifest, uid, gid);
    return { models };
  },
});
