import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateSecretKey, publicKeyOf } from "../../core/ed25519.js";
import { bundleInputsFor } from "../../image/bundle.js";
import { writeBundle } from "../../image/lib/bundle.js";
import { resolveBoard } from "../../image/pipeline.js";
import { verifyBundleFile } from "../../services/update/bundleReader.js";

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "sovereign-bundle-work-"));
  mkdirSync(join(work, "rootfs/boot"), { recursive: true });
  writeFileSync(join(work, "root.img"), Buffer.alloc(64 * 1024, 7));
  writeFileSync(join(work, "boot.img"), Buffer.alloc(8 * 1024, 1));
  for (const v of ["6.1.0-9-amd64", "6.12.1-1-amd64"]) {
    writeFileSync(join(work, `rootfs/boot/vmlinuz-${v}`), `kernel ${v}`);
    writeFileSync(join(work, `rootfs/boot/initrd.img-${v}`), `initrd ${v}`);
  }
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe("image bundle: the slot content of a stopped build", () => {
  it("UEFI: the ext4 root plus the newest kernel and its initrd, packed and signed so a node trusting the key accepts it", async () => {
    const board = resolveBoard("x86_64");
    const inputs = bundleInputsFor(work, board);
    expect(inputs.map((i) => [i.name, i.target, i.path.slice(work.length)])).toEqual([
      ["rootfs.ext4", "root", "/root.img"],
      ["vmlinuz", "boot", "/rootfs/boot/vmlinuz-6.12.1-1-amd64"],
      ["initrd.img", "boot", "/rootfs/boot/initrd.img-6.12.1-1-amd64"],
    ]);
    const key = generateSecretKey();
    const out = join(work, "x.sovupdate");
    await writeBundle(out, { version: "0.2.0", board: board.id }, inputs, key);
    const v = await verifyBundleFile(out, { trustedKeys: [Buffer.from(publicKeyOf(key)).toString("hex")], board: "x86_64", runningVersion: "0.1.0" });
    expect(v.manifest.parts.map((p) => p.size)).toEqual([64 * 1024, "kernel 6.12.1-1-amd64".length, "initrd 6.12.1-1-amd64".length]);
  });

  it("Pi: the root plus the slot's firmware partition image", () => {
    expect(bundleInputsFor(work, resolveBoard("rpi5")).map((i) => i.name)).toEqual(["rootfs.ext4", "boot.vfat"]);
  });
});
