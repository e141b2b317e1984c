import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { findBoard } from "../../image/boards/registry.js";
import { initrdModuleNames, listInitrd, missingInitrdModules, requiredInitrdModules } from "../../image/lib/initrdModules.js";
import { requireTools } from "../helpers/requireTool.js";

/** A newc cpio archive, as mkinitramfs and dracut write them. */
function newc(files: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  const entry = (name: string, data: Buffer, mode: number): void => {
    const fields = [1, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, name.length + 1, 0];
    parts.push(pad(Buffer.concat([Buffer.from("070701" + fields.map((f) => f.toString(16).padStart(8, "0")).join("")), Buffer.from(`${name}\0`)])));
    parts.push(pad(data));
  };
  for (const [name, text] of Object.entries(files)) entry(name, Buffer.from(text), 0o100644);
  entry("TRAILER!!!", Buffer.alloc(0), 0);
  const all = Buffer.concat(parts);
  return Buffer.concat([all, Buffer.alloc((512 - (all.length % 512)) % 512)]);
}

const K = "usr/lib/modules/6.12.0-test";

describe.runIf(requireTools("zstd"))("initrd module listing", () => {
  // An uncompressed early archive (microcode, as dracut writes it) followed by the zstd main archive.
  const early = newc({ "kernel/x86/microcode/GenuineIntel.bin": "ucode" });
  const main = newc({
    [`${K}/kernel/drivers/usb/host/xhci-pci.ko.zst`]: "x",
    [`${K}/kernel/drivers/hid/usbhid/usbhid.ko.xz`]: "x",
    [`${K}/kernel/drivers/nvme/host/nvme.ko`]: "x",
    [`${K}/modules.builtin`]: "kernel/drivers/input/keyboard/atkbd.ko\nkernel/drivers/virtio/virtio_pci.ko\n",
    "usr/lib/cryptsetup/scripts/passdev": "#!",
  });
  const initrd = Buffer.concat([early, execFileSync("zstd", ["-q", "-c"], { input: main })]);

  it("reads both archives: files, modules by name (- and _ alike), and the kernel's built-in list", () => {
    const l = listInitrd(initrd);
    expect(l.files).toContain("kernel/x86/microcode/GenuineIntel.bin");
    expect(l.files).toContain("usr/lib/cryptsetup/scripts/passdev");
    expect([...initrdModuleNames(l)].sort()).toEqual(["nvme", "usbhid", "xhci_pci"]);
    expect(l.builtin).toHaveLength(2);
  });

  it("a required module is present as a file or built in; the rest are reported missing", () => {
    const l = listInitrd(initrd);
    expect(missingInitrdModules(l, ["xhci_pci", "usbhid", "nvme", "atkbd", "virtio-pci"])).toEqual([]);
    expect(missingInitrdModules(l, ["nvme", "rp1-pci", "macb"])).toEqual(["rp1-pci", "macb"]);
  });

  it("rejects data it cannot read rather than reporting an empty initrd", () => {
    expect(() => listInitrd(Buffer.from("not an initrd at all"))).toThrow(/unknown data/);
  });
});

describe("each board's boot-critical modules", () => {
  it("the Pi 5 needs RP1 (its USB and Ethernet sit behind it), its USB 3 and the SD controller", () => {
    const rpi5 = requiredInitrdModules(findBoard("rpi5")!, "usb-key");
    expect(rpi5).toEqual(expect.arrayContaining(["rp1_pci", "clk_rp1", "pinctrl_rp1", "dwc3", "xhci_plat_hcd", "sdhci_brcmstb", "usb_storage", "usbhid"]));
    expect(rpi5).not.toContain("macb");
    expect(requiredInitrdModules(findBoard("rpi5")!, "ssh")).toEqual(expect.arrayContaining(["macb", "broadcom"]));
  });

  it("every board names storage, a USB host and a keyboard; network drivers only for ssh unlock", () => {
    for (const id of ["x86_64", "arm64-uefi", "rpi4", "rpi5", "jetson-orin"]) {
      const b = findBoard(id)!;
      expect(b.initramfsModules.storage.length, id).toBeGreaterThan(0);
      expect(b.initramfsModules.usbHost.length, id).toBeGreaterThan(0);
      expect(b.initramfsModules.keyboard, id).toContain("usbhid");
      expect(b.initramfsModules.network.length, id).toBeGreaterThan(0);
      for (const m of b.initramfsModules.network) expect(requiredInitrdModules(b, "passphrase"), id).not.toContain(m);
    }
  });
});
