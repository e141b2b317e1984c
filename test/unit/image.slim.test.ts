import { describe, expect, it } from "vitest";
import { dpkgFilters, initrdSlimHook, inodesFor, isNativeObject, isPrunableFile, modulesToRemove, parseModulesDep } from "../../image/lib/slim.js";
import { findBoard } from "../../image/boards/registry.js";
import { validateBoardProfile } from "../../image/boards/schema.js";
import { bootstrapKey } from "../../image/distros/debian.js";

const dep = parseModulesDep(
  [
    "kernel/sound/core/snd.ko.xz: kernel/sound/soundcore.ko.xz",
    "kernel/sound/soundcore.ko.xz:",
    "kernel/drivers/platform/x86/thinkpad_acpi.ko.xz: kernel/sound/core/snd.ko.xz kernel/sound/soundcore.ko.xz",
    "kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko.xz:",
    "kernel/drivers/media/rc/rc-core.ko.xz:",
    "kernel/drivers/mediatek/x.ko.xz:",
    "",
  ].join("\n"),
);

describe("kernel module exclusions", () => {
  it("parses modules.dep", () => {
    expect(dep.get("kernel/sound/core/snd.ko.xz")).toEqual(["kernel/sound/soundcore.ko.xz"]);
    expect(dep.get("kernel/sound/soundcore.ko.xz")).toEqual([]);
  });

  it("removes the excluded trees and, separately, the modules that need them", () => {
    const r = modulesToRemove(dep, ["sound", "drivers/media/"]);
    expect(r.excluded).toEqual(["kernel/drivers/media/rc/rc-core.ko.xz", "kernel/sound/core/snd.ko.xz", "kernel/sound/soundcore.ko.xz"]);
    expect(r.dependents).toEqual(["kernel/drivers/platform/x86/thinkpad_acpi.ko.xz"]);
  });

  it("matches whole directory names (drivers/media does not take drivers/mediatek)", () => {
    expect(modulesToRemove(dep, ["drivers/media"]).excluded).not.toContain("kernel/drivers/mediatek/x.ko.xz");
  });

  it.each(["x86_64", "arm64-uefi"])("%s keeps storage, USB, HID, Ethernet and ext4, and its list is valid", (id) => {
    const b = findBoard(id)!;
    expect(validateBoardProfile(b)).toEqual({ ok: true });
    expect(b.kernelModulesExclude).toContain("drivers/media");
    for (const keep of ["drivers/net/ethernet", "drivers/usb", "drivers/hid", "drivers/scsi", "drivers/ata", "drivers/nvme", "drivers/char/tpm", "fs/ext4", "fs/fat", "crypto", "drivers/md", "drivers/virtio", "drivers/gpu/drm"])
      expect((b.kernelModulesExclude ?? []).some((d) => keep === d || keep.startsWith(`${d}/`))).toBe(false);
  });

  it("boards that need Wi-Fi or their GPU declare no exclusions", () => {
    expect(findBoard("rpi4")!.kernelModulesExclude).toBeUndefined();
    expect(validateBoardProfile({ ...findBoard("x86_64")!, kernelModulesExclude: ["../etc"] }).ok).toBe(false);
  });
});

describe("node_modules pruning", () => {
  it("drops sources, types, maps and markdown, keeps code, data and licenses", () => {
    for (const f of ["index.d.ts", "index.d.cts", "x.mts", "index.js.map", "README.md", "CHANGELOG.md", "binding.cc", "napi.h", ".travis.yml", ".eslintrc.json", ".gitattributes"]) expect(isPrunableFile(f)).toBe(true);
    for (const f of ["index.js", "index.cjs", "index.mjs", "package.json", "LICENSE", "LICENSE.md", "license.txt", "NOTICE.md", "COPYING", "schema.json", "binding.gyp", "x.node"]) expect(isPrunableFile(f)).toBe(false);
  });

  it("strips native objects", () => {
    for (const f of ["better_sqlite3.node", "libllama.so", "libonnxruntime.so.1"]) expect(isNativeObject(f)).toBe(true);
    expect(isNativeObject("so.js")).toBe(false);
  });
});

describe("initramfs hook", () => {
  it("keeps ext4 and FAT, drops networking unless the disk is unlocked over ssh", () => {
    const usb = initrdSlimHook("usb-key");
    expect(usb).toMatch(/^#!\/bin\/sh\n/);
    expect(usb).toContain("prereqs) prereqs; exit 0");
    expect(usb).toMatch(/case "\$\{d#fs\/\}" in ext4\|jbd2\|mbcache[^)]*\|fat\|nls\|overlayfs\)/);
    expect(usb).toContain("rm -rf drivers/net net");
    expect(initrdSlimHook("ssh")).not.toContain("rm -rf drivers/net");
  });
});

describe("dpkg filters and inodes", () => {
  it("exclude docs, manuals and translations but keep the copyright files", () => {
    expect(dpkgFilters).toContain("path-exclude=/usr/share/doc/*");
    expect(dpkgFilters.indexOf("path-include=/usr/share/doc/*/copyright")).toBeGreaterThan(dpkgFilters.indexOf("path-exclude=/usr/share/doc/*"));
  });

  it("are part of the bootstrap cache key (a tarball made without them is not reused)", () => {
    expect(bootstrapKey(findBoard("x86_64")!, "http://a/debian")).toMatch(/^[0-9a-f]{16}$/);
  });

  it("fits the inode count to the tree with a margin, in whole KiB-inode steps", () => {
    expect(inodesFor(22_000)).toBeGreaterThanOrEqual(22_000 * 1.1 + 2048);
    expect(inodesFor(22_000) % 1024).toBe(0);
    expect(inodesFor(22_000)).toBeLessThan(30_000);
  });
});
