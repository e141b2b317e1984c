import { describe, expect, it } from "vitest";
import { findBoard } from "../../image/boards/registry.js";
import { crypttab, expectedPiCmdline, fstab, initramfsFiles, initramfsGenerator, kernelCmdline, loaderEntry, raspiFirmwareDefaults } from "../../image/lib/bootConfig.js";
import { debian } from "../../image/distros/debian.js";
import { minimumDiskBytes, MiB, parseSfdiskJson, placePartitions, sfdiskScript } from "../../image/lib/sfdisk.js";
import { parseSize } from "../../image/lib/size.js";

const ids = { luksUuid: "0b5c7f3e-2a43-4c55-9a39-1c1e4b1c2d3e", rootFsUuid: "11111111-2222-3333-4444-555555555555", bootVolumeId: "ABCD-1234" };
const x86 = findBoard("x86_64")!;
const rpi4 = findBoard("rpi4")!;

describe("sfdisk script", () => {
  it("GPT: ESP at 1 MiB then the arch's root type, in 512-byte sectors", () => {
    const s = sfdiskScript({ table: "gpt", arch: "amd64", bootBytes: 256 * MiB, rootBytes: 600 * MiB, diskBytes: minimumDiskBytes(256 * MiB, 600 * MiB) });
    expect(s).toContain("label: gpt");
    expect(s).toContain("start=2048, size=524288, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    expect(s).toContain(`start=${2048 + 524288}, size=${600 * 2048}, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709`);
  });

  it("arm64 GPT uses the arm64 root type; MBR marks the FAT partition bootable, type c", () => {
    expect(sfdiskScript({ table: "gpt", arch: "arm64", bootBytes: 64 * MiB, rootBytes: 64 * MiB, diskBytes: 200 * MiB })).toContain("B921B045-1DF0-41C3-AF44-4C6F280D3FAE");
    const dos = sfdiskScript({ table: "dos", arch: "arm64", bootBytes: 256 * MiB, rootBytes: 64 * MiB, diskBytes: 400 * MiB });
    expect(dos).toMatch(/label: dos/);
    expect(dos).toMatch(/start=2048, size=524288, type=c, bootable/);
    expect(dos).toMatch(/type=83/);
  });

  it("refuses unaligned sizes and a disk smaller than its partitions", () => {
    expect(() => sfdiskScript({ table: "gpt", arch: "amd64", bootBytes: 1000, rootBytes: MiB, diskBytes: 10 * MiB })).toThrow();
    expect(() => sfdiskScript({ table: "gpt", arch: "amd64", bootBytes: MiB, rootBytes: MiB, diskBytes: 2 * MiB })).toThrow();
  });

  it("places root right after boot", () => {
    const p = placePartitions({ table: "gpt", arch: "amd64", bootBytes: 256 * MiB, rootBytes: 10 * MiB, diskBytes: 300 * MiB });
    expect(p.root.startBytes).toBe(257 * MiB);
  });

  it("parses sfdisk --json", () => {
    const j = parseSfdiskJson(JSON.stringify({ partitiontable: { label: "dos", partitions: [{ node: "x1", start: 2048, size: 10, type: "c", bootable: true }, { node: "x2", start: 4096, size: 20, type: "83" }] } }));
    expect(j.label).toBe("dos");
    expect(j.partitions.map((p) => p.bootable)).toEqual([true, false]);
  });
});

describe("crypttab, fstab and the kernel command line", () => {
  it("passphrase: no key file, unlocked in the initramfs; root named by its LUKS label, which survives first boot's new UUID", () => {
    expect(crypttab("passphrase", ids)).toBe("sovroot LABEL=sovereign-luks none luks,discard,initramfs\n");
    expect(crypttab("passphrase", ids)).not.toContain(ids.luksUuid);
  });

  it("usb-key: our keyscript around passdev waits for the stick labelled SOVKEY, then asks for the recovery key; no limit on tries", () => {
    expect(crypttab("usb-key", ids)).toBe(
      "sovroot LABEL=sovereign-luks /dev/disk/by-label/SOVKEY:/sovereign.key luks,discard,initramfs,tries=0,keyscript=/usr/lib/sovereign/usbkey-keyscript\n",
    );
    expect(initramfsFiles("usb-key")["etc/initramfs-tools/modules"]).toMatch(/^vfat$/m);
    expect(kernelCmdline(x86, "usb-key", ids.luksUuid, ["sovereign.keywait=20"])).toMatch(/ sovereign\.keywait=20$/);
  });

  it("the board's boot-critical modules are forced into either initramfs, once each", () => {
    const mods = initramfsFiles("usb-key", undefined, "aes-xts-plain64", ["xhci_pci", "usbhid", "sd_mod"])["etc/initramfs-tools/modules"]!.split("\n");
    expect(mods).toEqual(expect.arrayContaining(["xhci_pci", "usbhid"]));
    expect(mods.filter((m) => m === "sd_mod")).toHaveLength(1);
    expect(initramfsFiles("tpm2", undefined, "aes-xts-plain64", ["nvme", "usbhid"])["etc/dracut.conf.d/90-sovereign.conf"]).toMatch(/^add_drivers\+=" nvme usbhid "$/m);
  });

  it("ssh: dropbear with the user's key, and ip=dhcp on the command line", () => {
    const f = initramfsFiles("ssh", "ssh-ed25519 AAAA user@host");
    expect(f["etc/dropbear/initramfs/authorized_keys"]).toBe("ssh-ed25519 AAAA user@host\n");
    expect(kernelCmdline(x86, "ssh", ids.luksUuid)).toContain("ip=dhcp");
    expect(() => initramfsFiles("ssh")).toThrow();
    expect(debian.unlockPackages("ssh")).toContain("dropbear-initramfs");
  });

  it("tpm2: a dracut initrd whose systemd-cryptsetup tries the TPM2 token, then asks for the recovery passphrase", () => {
    expect(initramfsGenerator("tpm2")).toBe("dracut");
    for (const u of ["passphrase", "usb-key", "ssh"] as const) expect(initramfsGenerator(u)).toBe("initramfs-tools");
    expect(debian.unlockPackages("tpm2")).toEqual(expect.arrayContaining(["dracut", "systemd-cryptsetup", "tpm2-tools"]));
    const files = initramfsFiles("tpm2");
    expect(Object.keys(files)).toEqual(["etc/dracut.conf.d/90-sovereign.conf"]);
    // Generic, not host-only: the build chroot's devices are not the device's.
    expect(files["etc/dracut.conf.d/90-sovereign.conf"]).toMatch(/^hostonly="no"$/m);
    expect(files["etc/dracut.conf.d/90-sovereign.conf"]).toMatch(/add_dracutmodules\+=" systemd-cryptsetup tpm2-tss "/);
    // No keyscript, no "initramfs" flag (initramfs-tools only); the same options in crypttab and on the initrd's command line.
    expect(crypttab("tpm2", ids)).toBe("sovroot LABEL=sovereign-luks none luks,discard,tpm2-device=auto\n");
    const cmdline = kernelCmdline(x86, "tpm2", ids.luksUuid).split(" ");
    expect(cmdline).toContain(`rd.luks.name=${ids.luksUuid}=sovroot`);
    expect(cmdline).toContain(`rd.luks.options=${ids.luksUuid}=discard,tpm2-device=auto`);
    expect(kernelCmdline(x86, "usb-key", ids.luksUuid)).not.toContain("rd.luks");
  });

  it("the initramfs names the cipher's modules (the hook cannot see a closed volume's cipher)", () => {
    expect(initramfsFiles("passphrase", undefined, "xchacha12,aes-adiantum-plain64")["etc/initramfs-tools/modules"]).toMatch(/^adiantum$/m);
    expect(initramfsFiles("passphrase")["etc/initramfs-tools/modules"]).toMatch(/^dm_crypt$/m);
  });

  it("every initramfs gets CRYPTSETUP=y", () => {
    expect(initramfsFiles("passphrase")["etc/cryptsetup-initramfs/conf-hook"]).toBe("CRYPTSETUP=y\n");
  });

  it("fstab mounts the mapper root and the FAT partition by volume id", () => {
    expect(fstab(x86, ids)).toContain("/dev/mapper/sovroot / ext4");
    expect(fstab(x86, ids)).toContain("UUID=ABCD-1234 /boot/efi vfat");
    expect(fstab(rpi4, ids)).toContain("/boot/firmware vfat");
  });

  it("the loader entry boots the mapper root on the board's serial console, with no menu", () => {
    const { entry, loaderConf } = loaderEntry(x86, "usb-key", ids.luksUuid);
    expect(entry).toMatch(/^linux \/vmlinuz$/m);
    expect(entry).toMatch(/^initrd \/initrd.img$/m);
    expect(entry).toContain("options root=/dev/mapper/sovroot rootfstype=ext4 ro quiet panic=10 console=tty0 console=ttyS0,115200");
    expect(loaderConf).toContain("timeout 0");
  });
});

describe("raspi-firmware configuration (config.txt / cmdline.txt come from these)", () => {
  it("names the crypt root, the console and the config.txt extras", () => {
    const f = raspiFirmwareDefaults(rpi4, "passphrase");
    expect(f["etc/default/raspi-firmware"]).toContain("ROOTPART=/dev/mapper/sovroot");
    expect(f["etc/default/raspi-firmware"]).toContain('CONSOLES="ttyS1,115200 tty0"');
    expect(f["etc/default/raspi-firmware-custom"]).toBe("arm_64bit=1\ndisable_overscan=1\n");
    expect(f["etc/default/raspi-extra-cmdline"]).toBe("rootfstype=ext4 quiet panic=10\n");
    expect(expectedPiCmdline(rpi4)).toContain("root=/dev/mapper/sovroot");
    expect(() => raspiFirmwareDefaults(x86, "passphrase")).toThrow();
  });
});

describe("sizes", () => {
  it.each([["8G", 8 * 1024 ** 3], ["512M", 512 * MiB], ["1.5GiB", 1.5 * 1024 ** 3], ["4096", 4096]])("%s", (t, n) => expect(parseSize(t)).toBe(n));
  it.each(["", "lots", "-1G", "0"])("rejects %j", (t) => expect(parseSize(t)).toBeUndefined());
});
