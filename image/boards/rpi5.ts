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
  // On the Pi 5 all USB and Ethernet sit behind RP1, on the SoC's PCIe: the RP1 core (rp1-pci, which
  // enables its sub-devices from a DT overlay), its clocks and pins, RP1's DesignWare USB 3 (dwc3 +
  // xhci-plat) and its Cadence GEM Ethernet (macb) with a Broadcom PHY. The SD slot is the SoC's
  // sdhci-brcmstb. Names from the kernel sources (6.17: drivers/misc/rp1, clk-rp1, pinctrl-rp1); the
  // initramfs step fails the build if the backports kernel lacks one.
  initramfsModules: {
    storage: ["sdhci_brcmstb", "mmc_block", "nvme", "usb_storage", "uas", "sd_mod"],
    usbHost: ["rp1_pci", "clk_rp1", "pinctrl_rp1", "dwc3", "xhci_plat_hcd", "xhci_hcd"],
    keyboard: ["usbhid", "hid_generic"],
    network: ["macb", "broadcom"],
  },
  // Cortex-A76: Armv8.2 with the dot product and half-precision instructions llama.cpp's Q4/Q8 kernels use.
  llamaCpu: { title: "Cortex-A76 (Armv8.2-A, dotprod, fp16)", isa: ["-DGGML_NATIVE=OFF", "-DGGML_CPU_ARM_ARCH=armv8.2-a+dotprod+fp16"], qemuCpu: "cortex-a76" },
  notes: ["CPU inference; kernel from trixie-backports (>= 6.17), EEPROM bootloader"],
};
