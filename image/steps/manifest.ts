import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { BuildContext } from "../BuildContext.js";
import { capture } from "../lib/exec.js";
import { loadOrCreateBuildKey, parseDpkgList, sha256sums, signManifest, type BuildManifest } from "../lib/manifest.js";
import { SUITE } from "../lib/aptSources.js";
import { sha256File } from "./models.js";
import type { Step } from "./Step.js";

function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.partial`, text);
  renameSync(`${path}.partial`, path);
}

async function versionOf(ctx: BuildContext, pkgs: { name: string; version: string }[], name: string): Promise<string> {
  return pkgs.find((p) => p.name === name)?.version ?? "";
}

/** Step 8b: SHA256SUMS and the build manifest, signed with the build host's ed25519 key. */
export const manifestStep: Step = {
  name: "manifest",
  title: "Write SHA256SUMS and the signed build manifest",
  async run(ctx) {
    const s = ctx.state;
    const out = ctx.options.out;
    const dpkg = await capture("dpkg-query", ["--admindir", join(ctx.rootfs, "var/lib/dpkg"), "-W", "-f", "${Package}\\t${Version}\\t${Architecture}\\n"]);
    s.packages = parseDpkgList(dpkg.replace(/\\t/g, "\t").replace(/\\n/g, "\n"));
    for (const o of s.outputs) {
      o.sha256 = await sha256File(o.path);
      o.bytes = statSync(o.path).size;
    }
    const kernelPkg = s.packages.find((p) => p.name.startsWith("linux-image-") && /\d/.test(p.name));
    const manifest: BuildManifest = {
      schema: 1,
      name: ctx.name,
      board: ctx.board.id,
      arch: ctx.board.arch,
      suite: SUITE,
      builtAt: new Date().toISOString(),
      versions: {
        runtime: s.runtime?.version ?? "",
        node: await versionOf(ctx, s.packages, "nodejs"),
        kernel: kernelPkg ? `${kernelPkg.name} ${kernelPkg.version}` : "",
        builder: (JSON.parse(readFileSync(join(ctx.options.repoRoot, "package.json"), "utf8")) as { version: string }).version,
      },
      unlock: ctx.unlock,
      luks: { uuid: s.luksUuid ?? "", cipher: ctx.board.luks.cipher, buildCipher: s.luksCipher ?? "", keySize: ctx.board.luks.keySize, pbkdfMemoryKiB: ctx.board.luks.pbkdfMemoryKiB },
      partitionTable: ctx.board.partitions.table,
      sizes: { rootfsBytes: s.rootFsBytes ?? 0, diskBytes: s.diskBytes ?? 0, runtimeBytes: s.runtime?.bytes ?? 0 },
      files: s.outputs.map((o) => ({ file: basename(o.path), sha256: o.sha256, bytes: o.bytes })),
      models: s.models,
      packages: s.packages,
      timings: ctx.timings.map((t) => ({ step: t.step, seconds: t.seconds, skipped: t.skipped })),
    };
    const key = loadOrCreateBuildKey(join(ctx.options.cache, "build-key.ed25519"));
    const signed = signManifest(manifest, key);
    const mPath = join(out, `${ctx.name}.manifest.json`);
    writeAtomic(mPath, signed.json + "\n");
    writeAtomic(`${mPath}.sig`, signed.signature + "\n");
    writeAtomic(join(out, "build-key.pub"), signed.publicKey + "\n");
    const sums = [...manifest.files];
    for (const p of [mPath, `${mPath}.sig`]) sums.push({ file: basename(p), sha256: await sha256File(p), bytes: statSync(p).size });
    writeAtomic(join(out, "SHA256SUMS"), sha256sums(sums));
    s.manifestPath = mPath;
    ctx.progress(`${s.packages.length} packages; signed with build key ${signed.publicKey.slice(0, 16)}…`);
    return undefined;
  },
};
