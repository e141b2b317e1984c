import type { BoardProfile } from "./BoardProfile.js";
import { applianceRuntime } from "./applianceRuntime.js";

export const rpi5: BoardProfile = {
  id: "rpi5",
  title: "Raspberry Pi 5",
  arch: "arm64",
  runtime: { ...applianceRuntime },
  boot: {
    kind: "raspberrypi",
    configTxtExtra: ["arm_64bit=1"],
    dtbs: ["bcm2712-rpi-5-b.dtb"],
  },
  partitions: { table: "dos", bootMiB: 256 },
  // The Pi 5 needs a kernel of at least 6.17: trixie-backports has it.
  packages: { kernel: ["linux-image-arm64"], firmware: ["raspi-firmware", "firmware-brcm80211"], extra: [] },
  components: ["main", "non-free-firmware"],
  extraSuites: ["trixie-backports"],
  fromSuite: { "linux-image-arm64": "trixie-backports" },
  console: "ttyAMA10,115200",
  // The Cortex-A76 has AES instructions; 512 MiB cap for the 2 GiB model.
  luks: { cipher: "aes-xts-plain64", keySize: 512, pbkdfMemoryKiB: 524_288 },
  unlock: ["passphrase", "usb-key", "ssh"],
  serviceEnv: {},
  notes: ["CPU inference; kernel from trixie-backports (>= 6.17), EEPROM bootloader"],
};
