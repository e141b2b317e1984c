import type { BoardProfile } from "./BoardProfile.js";
import { applianceRuntime } from "./applianceRuntime.js";

export const rpi4: BoardProfile = {
  id: "rpi4",
  title: "Raspberry Pi 4",
  arch: "arm64",
  // SD cards are slow and small: keep the SQLite cache modest.
  runtime: { ...applianceRuntime, "tuning.sqliteCacheMb": 16 },
  boot: {
    kind: "raspberrypi",
    configTxtExtra: ["arm_64bit=1", "disable_overscan=1"],
    dtbs: ["bcm2711-rpi-4-b.dtb", "bcm2711-rpi-400.dtb", "bcm2711-rpi-cm4.dtb"],
  },
  // The Pi 4 boot ROM reads MBR; the firmware partition holds kernel, initrd, DTBs and config.
  partitions: { table: "dos", bootMiB: 256 },
  packages: { kernel: ["linux-image-arm64"], firmware: ["raspi-firmware", "firmware-brcm80211"], extra: [] },
  components: ["main", "non-free-firmware"],
  extraSuites: [],
  fromSuite: {},
  console: "ttyS1,115200",
  // No AES instructions on the Pi 4's Cortex-A72: Adiantum is several times faster.
  // The 1 GiB Pi 4 must unlock it, so argon2id stays at 256 MiB.
  luks: { cipher: "xchacha12,aes-adiantum-plain64", keySize: 256, pbkdfMemoryKiB: 262_144 },
  unlock: ["passphrase", "usb-key", "ssh"],
  serviceEnv: { MALLOC_ARENA_MAX: "2" },
  // SD through sdhci-iproc (emmc2); USB-A behind the VL805 on PCIe (pcie-brcmstb is built in), USB-C through dwc2;
  // Ethernet is GENET with a Broadcom PHY.
  initramfsModules: {
    storage: ["sdhci_iproc", "mmc_block", "usb_storage", "uas", "sd_mod"],
    usbHost: ["xhci_pci", "xhci_hcd", "dwc2"],
    keyboard: ["usbhid", "hid_generic"],
    network: ["genet", "broadcom"],
  },
  // Cortex-A72: Armv8.0 with NEON, no dot product, no LSE atomics.
  llamaCpu: { title: "Cortex-A72 (Armv8-A)", isa: ["-DGGML_NATIVE=OFF", "-DGGML_CPU_ARM_ARCH=armv8-a"], qemuCpu: "cortex-a72" },
  notes: ["CPU inference; Adiantum disk encryption (no AES instructions)"],
};
