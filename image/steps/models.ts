import { createHash } from "node:crypto";
import { chownSync, copyFileSync, createReadStream, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { defineStep, skip } from "./Step.js";
import type { FileDigest } from "../StepOutputs.js";
import { DATA_DIR, SERVICE_USER } from "../lib/units.js";

export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** Step 5: --model files into <dataDir>/models with a manifest (name, size, sha256), owned by the service user that configure made. */
export const modelsStep = defineStep({
  name: "models",
  title: "Install models into the data directory",
  needs: ["configure"],
  async run(ctx) {
    if (ctx.options.models.length === 0) return skip("no --model given", { models: [] });
    const models: FileDigest[] = [];
    const dir = join(ctx.rootfs, DATA_DIR.slice(1), "models");
    const passwd = readFileSync(join(ctx.rootfs, "etc/passwd"), "utf8").split("\n").find((l) => l.startsWith(`${SERVICE_USER}:`))?.split(":") ?? [];
    const uid = Number(passwd[2]);
    const gid = Number(passwd[3]);
    for (const m of ctx.options.models) {
      ctx.progress(`model ${basename(m)} (${(statSync(m).size / 1024 ** 2).toFixed(0)} MiB)`);
      const dest = join(dir, basename(m));
      copyFileSync(m, dest);
      chownSync(dest, uid, gid);
      models.push({ file: basename(m), sha256: await sha256File(dest), bytes: statSync(dest).size });
    }
    const manifest = join(dir, "manifest.json");
    writeFileSync(manifest, JSON.stringify({ models: models.map((m) => ({ ...m, format: "gguf", source: "image build" })) }, null, 2) + "\n");
    chownSync(manifest, uid, gid);
    return { models };
  },
});
