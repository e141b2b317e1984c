import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateSecretKey, publicKeyOf } from "../../core/ed25519.js";
import { bundleInputsFor } from "../../image/bundle.js";
import { writeBundle } from "../../image/lib/bundle.js";
import { resolveBoard } from "../../image/pipeline.js";
import { verifyBundleFile } from "../../services/update/verifyBundleFile.js";
import { requireTools } from "../helpers/requireTool.js";

let work: string;
const env = { ...process.env, MTOOLS_SKIP_CHECK: "1" };

/** A stopped build's work dir: the ext4 root, and the ESP image with the kernel and initrd the firmware loads. */
function stoppedBuild(initrd: string): void {
  writeFileSync(join(work, "root.img"), Buffer.alloc(64 * 1024, 7));
  mkdirSync(join(work, "src"));
  writeFileSync(join(work, "src/vmlinuz"), "MZ kernel");
  writeFileSync(join(work, "src/initrd.img"), initrd);
  execFileSync("mkfs.vfat", ["-C", join(work, "boot.img"), "2048"], { stdio: "ignore" });
  // The A/B layout's ESP, which bundles are built with: slot A's pair under /sovereign/a/.
  execFileSync("mmd", ["-i", join(work, "boot.img"), "::/sovereign", "::/sovereign/a"], { env });
  for (const f of ["vmlinuz", "initrd.img"]) execFileSync("mcopy", ["-i", join(work, "boot.img"), join(work, "src", f), `::/sovereign/a/${f}`], { env });
}

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "sovereign-bundle-work-"));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe.runIf(requireTools("mkfs.vfat", "mcopy"))("image bundle: the slot content of a stopped build", () => {
  it("UEFI: the ext4 root plus the kernel and initrd the ESP carries, packed and signed so a node trusting the key accepts it", async () => {
    stoppedBuild("initrd bytes");
    const board = resolveBoard("x86_64");
    const inputs = await bundleInputsFor(work, board);
    expect(inputs.map((i) => [i.name, i.target])).toEqual([["rootfs.ext4", "root"], ["vmlinuz", "boot"], ["initrd.img", "boot"]]);
    expect(readFileSync(inputs[2]!.path, "utf8")).toBe("initrd bytes");
    const key = generateSecretKey();
    const out = join(work, "x.sovupdate");
    await writeBundle(out, { version: "0.2.0", board: board.id }, inputs, key);
    const v = await verifyBundleFile(out, { trustedKeys: [Buffer.from(publicKeyOf(key)).toString("hex")], board: "x86_64", runningVersion: "0.1.0" });
    expect(v.manifest.parts.map((p) => p.size)).toEqual([64 * 1024, "MZ kernel".length, "initrd bytes".length]);
  });

  it("refuses to pack an empty boot file (the real build's first run showed the root's emptied initrd copy)", async () => {
    stoppedBuild("");
    await expect(bundleInputsFor(work, resolveBoard("x86_64"))).rejects.toMatchObject({ code: "IMAGE_COMMAND_FAILED" });
  });

  it("Pi: the root plus the slot's firmware partition image", async () => {
    expect((await bundleInputsFor(work, resolveBoard("rpi5"))).map((i) => i.name)).toEqual(["rootfs.ext4", "boot.vfat"]);
  });
});
