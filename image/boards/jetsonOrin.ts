import type { BoardProfile } from "./BoardProfile.js";
import { applianceRuntime } from "./applianceRuntime.js";

export const jetsonOrin: BoardProfile = {
  id: "jetson-orin",
  title: "NVIDIA Jetson Orin (UEFI, JetPack 6)",
  arch: "arm64",
  runtime: { ...applianceRuntime },
  boot: { kind: "uefi", loaderName: "BOOTAA64.EFI", systemdBootEfi: "usr/lib/systemd/boot/efi/systemd-bootaa64.efi" },
  partitions: { table: "gpt", bootMiB: 256 },
  packages: { kernel: ["linux-image-arm64"], firmware: [], extra: ["systemd-boot-efi"] },
  components: ["main", "non-free-firmware"],
  extraSuites: [],
  fromSuite: {},
  console: "ttyTCU0,115200",
  luks: { cipher: "aes-xts-plain64", keySize: 512, pbkdfMemoryKiB: 1_048_576 },
  unlock: ["passphrase", "usb-key", "ssh"],
  // The CUDA runner is built for the Orin's GPU (sm_87); node-llama-cpp names its build folder after
  // the custom CMake options, so the service must see the same option to find that build.
  serviceEnv: { NODE_LLAMA_CPP_CMAKE_OPTION_CMAKE_CUDA_ARCHITECTURES: "87" },
  // The Orin's USB is Tegra's XUSB (xhci_tegra and its PHY); the developer kit's Ethernet is a Realtek on PCIe.
  initramfsModules: {
    storage: ["nvme", "sd_mod", "sdhci_tegra", "usb_storage", "uas"],
    usbHost: ["xhci_tegra", "phy_tegra_xusb", "xhci_pci"],
    keyboard: ["usbhid", "hid_generic"],
    network: ["r8169"],
  },
  // Cortex-A78AE: Armv8.2 with dotprod and fp16 as the A76 (qemu has no A78: the A76 is its closest core).
  llamaCpu: { title: "Cortex-A78AE (Armv8.2-A, dotprod, fp16)", isa: ["-DGGML_NATIVE=OFF", "-DGGML_CPU_ARM_ARCH=armv8.2-a+dotprod+fp16"], qemuCpu: "cortex-a76" },
  notes: [
    "boots as a generic arm64 UEFI disk (USB or NVMe)",
    "CUDA offload only with the opt-in NVIDIA L4T layer (--l4t with a BSP directory or a 'deb …' apt line): the cuda-runner step then builds llama.cpp with CUDA; without it inference is CPU-only, and says so",
  ],
  vendorLayer: {
    name: "nvidia-l4t",
    description: "NVIDIA's L4T kernel and CUDA packages from a BSP path or apt source the user supplies; never fetched by default",
  },
};
