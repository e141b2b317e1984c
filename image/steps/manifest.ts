import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { loadOrCreateBuildKey, sha256sums, signManifest, type BuildManifest } from "../lib/manifest.js";
import type { FileDigest } from "../StepOutputs.js";
import { sha256File } from "../../core/fs/sha256File.js";
import { defineStep } from "./Step.js";

function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.partial`, text);
  renameSync(`${path}.partial`, path);
}

/** Step 8b: SHA256SUMS and the build manifest, signed with the build host's ed25519 key. */
export const manifestStep = defineStep({
  name: "manifest",
  title: "Write SHA256SUMS and the signed build manifest",
  needs: ["runtime", "configure", "models", "rootfs-image", "encrypt", "assemble", "compress"],
  async run(ctx, { runtime, configure, models, "rootfs-image": root, encrypt, assemble, compress }) {
    const out = ctx.options.out;
    const packages = await ctx.distro.installedPackages(ctx.rootfs);
    const files: FileDigest[] = [];
    for (const path of [compress.image]) files.push({ file: basename(path), sha256: await sha256File(path), bytes: statSync(path).size });
    const kernelPkg = packages.find((p) => p.name.startsWith("linux-image-") && /\d/.test(p.name));
    const manifest: BuildManifest = {
      schema: 1,
      name: ctx.name,
      board: ctx.board.id,
      arch: ctx.board.arch,
      suite: ctx.distro.release,
      builtAt: new Date().toISOString(),
      versions: {
        runtime: runtime.version,
        node: packages.find((p) => p.name === "nodejs")?.version ?? "",
        kernel: kernelPkg ? `${kernelPkg.name} ${kernelPkg.version}` : "",
        builder: (JSON.parse(readFileSync(join(ctx.options.repoRoot, "package.json"), "utf8")) as { version: string }).version,
      },
      unlock: ctx.unlock,
      luks: { uuid: configure.ids.luksUuid, cipher: ctx.board.luks.cipher, buildCipher: encrypt.buildCipher, keySize: ctx.board.luks.keySize, pbkdfMemoryKiB: ctx.board.luks.pbkdfMemoryKiB },
      partitionTable: assemble.table,
      sizes: { rootfsBytes: root.fsBytes, diskBytes: assemble.bytes, runtimeBytes: runtime.bytes },
      files,
      models: models.models,
      packages,
      security: { sovereignServiceExposure: configure.exposure },
      timings: ctx.timings.map((t) => ({ step: t.step, seconds: t.seconds, skipped: t.skipped })),
    };
    const key = loadOrCreateBuildKey(join(ctx.options.cache, "build-key.ed25519"));
    const signed = signManifest(manifest, key);
    const path = join(out, `${ctx.name}.manifest.json`);
    writeAtomic(path, signed.json + "\n");
    writeAtomic(`${path}.sig`, signed.signature + "\n");
    writeAtomic(join(out, "build-key.pub"), signed.publicKey + "\n");
    const sums = [...files];
    for (const p of [path, `${path}.sig`]) sums.push({ file: basename(p), sha256: await sha256File(p), bytes: statSync(p).size });
    writeAtomic(join(out, "SHA256SUMS"), sha256sums(sums));
    ctx.progress(`${packages.length} packages; signed with build key ${signed.publicKey.slice(0, 16)}…`);
    return { path, files, packages };
  },
});
