// Module trees a headless, wired, offline appliance never loads, on any architecture. What stays:
// storage, USB, HID (a keyboard for the passphrase), Ethernet, virtio, TPM, crypto, netfilter and the
// filesystems a user's USB disk may carry. Boards add their own GPU drivers.
export const headlessExcludes: readonly string[] = [
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
];
