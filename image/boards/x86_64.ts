import type { BoardProfile } from "./BoardProfile.js";

export const x86_64: BoardProfile = {
  id: "x86_64",
  title: "x86_64 PC (UEFI)",
  arch: "amd64",
  runtime: { "server.host": "0.0.0.0", "paths.dataDir": "/var/lib/sovereign" },
  boot: { kind: "uefi", loaderName: "BOOTX64.EFI", systemdBootEfi: "usr/lib/systemd/boot/efi/systemd-bootx64.efi" },
  partitions: { table: "gpt", bootMiB: 256 },
  packages: { kernel: ["linux-image-amd64"], firmware: [], extra: ["systemd-boot-efi"] },
  components: ["main"],
  extraSuites: [],
  fromSuite: {},
  console: "ttyS0,115200",
  // AES-NI is universal on x86_64 PCs; 1 GiB argon2id still unlocks a 2 GiB machine.
  luks: { cipher: "aes-xts-plain64", keySize: 512, pbkdfMemoryKiB: 1_048_576 },
  unlock: ["passphrase", "usb-key", "tpm2", "ssh"],
  serviceEnv: {},
  // A headless, wired, offline appliance. What stays: storage, USB, HID (keyboard for the passphrase),
  // Ethernet, virtio, TPM, crypto, netfilter and the filesystems a user's USB disk may carry.
  kernelModulesExclude: [
    // No display stack: the console is the serial port, or efifb, which is built into the kernel. The DRM
    // core stays, because I2C keyboards and touchpads (i2c-hid) and thinkpad_acpi link against it.
    "drivers/gpu/drm/amd",
    "drivers/gpu/drm/i915",
    "drivers/gpu/drm/xe",
    "drivers/gpu/drm/nouveau",
    "drivers/gpu/drm/radeon",
    "drivers/gpu/drm/gma500",
    // No audio, cameras or TV tuners. sound/core stays: thinkpad_acpi links against it.
    ...["soc", "pci", "usb", "hda", "firewire", "drivers", "i2c", "pcmcia", "synth", "isa", "x86", "virtio", "xen"].map((d) => `sound/${d}`),
    "drivers/media",
    // Wi-Fi and Bluetooth need firmware this board does not install (non-free-firmware is off).
    "drivers/net/wireless",
    "net/wireless",
    "net/mac80211",
    "drivers/bluetooth",
    "net/bluetooth",
    // Datacenter fabrics, telecom, vehicle buses, NFC, lab data acquisition: not on this appliance.
    "drivers/infiniband",
    "net/rds",
    "drivers/isdn",
    "drivers/atm",
    "net/atm",
    "drivers/net/can",
    "net/can",
    "drivers/nfc",
    "net/nfc",
    "drivers/net/wwan",
    "net/qrtr",
    "drivers/net/ieee802154",
    "net/ieee802154",
    "net/mac802154",
    "drivers/net/hamradio",
    "drivers/net/arcnet",
    "drivers/net/fddi",
    "net/tipc",
    // This node serves HTTP, not disks: no SCSI/iSCSI target, no NFS server.
    "drivers/target",
    "fs/nfsd",
    "drivers/comedi",
    // Drivers the kernel itself marks unfinished. (drivers/mtd stays: the sfc Ethernet driver needs it.)
    "drivers/staging",
    // Cluster and network filesystems that need servers an offline node does not have.
    "fs/ocfs2",
    "fs/gfs2",
    "fs/dlm",
    "fs/ceph",
    "net/ceph",
    "fs/afs",
    "net/rxrpc",
    "fs/orangefs",
    "fs/coda",
    // Flash, experimental and legacy filesystems no PC disk or USB stick uses.
    "fs/bcachefs",
    "fs/ubifs",
    "fs/reiserfs",
    "fs/jfs",
    "fs/nilfs2",
  ],
  notes: ["CPU inference (llama.cpp x64 prebuilt); TPM2 unlock where the PC has one"],
};
