import type { BoardProfile } from "./BoardProfile.js";
import { headlessExcludes } from "./headlessExcludes.js";
import { applianceRuntime } from "./applianceRuntime.js";

export const arm64Uefi: BoardProfile = {
  id: "arm64-uefi",
  title: "Generic arm64 (UEFI)",
  arch: "arm64",
  runtime: { ...applianceRuntime },
  boot: { kind: "uefi", loaderName: "BOOTAA64.EFI", systemdBootEfi: "usr/lib/systemd/boot/efi/systemd-bootaa64.efi" },
  partitions: { table: "gpt", bootMiB: 256 },
  packages: { kernel: ["linux-image-arm64"], firmware: [], extra: ["systemd-boot-efi"] },
  components: ["main"],
  extraSuites: [],
  fromSuite: {},
  console: "ttyAMA0,115200",
  // ARMv8 crypto extensions make AES-XTS fast on UEFI-class arm64; 512 MiB cap for 1 GiB boards.
  luks: { cipher: "aes-xts-plain64", keySize: 512, pbkdfMemoryKiB: 524_288 },
  unlock: ["passphrase", "usb-key", "ssh"],
  serviceEnv: {},
  kernelModulesExclude: [
    // No display stack (console on the serial port or the UEFI framebuffer): the SoC and discrete GPU
    // drivers go, the DRM core stays for the modules that link against it.
    ...["amd", "radeon", "nouveau", "msm", "tegra", "panfrost", "panthor", "lima", "etnaviv", "vc4", "v3d", "rockchip", "meson", "sun4i", "imx", "mediatek", "exynos", "hisilicon", "xe"].map(
      (d) => `drivers/gpu/drm/${d}`,
    ),
    ...headlessExcludes,
  ],
  initramfsModules: {
    storage: ["nvme", "ahci", "sd_mod", "virtio_blk", "virtio_scsi", "usb_storage", "uas"],
    usbHost: ["xhci_pci", "xhci_plat_hcd", "xhci_hcd"],
    keyboard: ["usbhid", "hid_generic"],
    network: ["virtio_net", "e1000e", "igb", "r8169"],
  },
  // Any arm64 board: Armv8.0 with NEON, as the oldest UEFI-class cores (Cortex-A53, A72) have.
  llamaCpu: { title: "Armv8-A (any arm64 core)", isa: ["-DGGML_NATIVE=OFF", "-DGGML_CPU_ARM_ARCH=armv8-a"], qemuCpu: "cortex-a53" },
  notes: ["CPU inference"],
};
