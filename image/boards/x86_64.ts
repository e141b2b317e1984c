import type { BoardProfile } from "./BoardProfile.js";
import { headlessExcludes } from "./headlessExcludes.js";
import { applianceRuntime } from "./applianceRuntime.js";

export const x86_64: BoardProfile = {
  id: "x86_64",
  title: "x86_64 PC (UEFI)",
  arch: "amd64",
  runtime: { ...applianceRuntime },
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
  kernelModulesExclude: [
    // No display stack: the console is the serial port, or efifb, which is built into the kernel. The DRM
    // core stays, because I2C keyboards and touchpads (i2c-hid) and thinkpad_acpi link against it.
    "drivers/gpu/drm/amd",
    "drivers/gpu/drm/i915",
    "drivers/gpu/drm/xe",
    "drivers/gpu/drm/nouveau",
    "drivers/gpu/drm/radeon",
    "drivers/gpu/drm/gma500",
    ...headlessExcludes,
  ],
  // Built in (checked against modules.builtin): virtio_pci, atkbd, i8042.
  initramfsModules: {
    storage: ["ahci", "nvme", "sd_mod", "virtio_blk", "virtio_scsi", "usb_storage", "uas"],
    usbHost: ["xhci_pci", "xhci_hcd", "ehci_pci"],
    keyboard: ["usbhid", "hid_generic", "atkbd"],
    network: ["e1000e", "igb", "igc", "r8169", "virtio_net"],
  },
  llamaCpu: {
    // The x86-64-v3 level (Haswell, Zen 1 and newer): AVX-512 would refuse most desktop CPUs, and AMX died of SIGILL in a VM that listed it.
    title: "x86-64-v3 (AVX2, FMA, F16C, BMI2)",
    isa: [
      "-DGGML_NATIVE=OFF", "-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON", "-DGGML_BMI2=ON",
      "-DGGML_AVX512=OFF", "-DGGML_AVX512_VBMI=OFF", "-DGGML_AVX512_VNNI=OFF", "-DGGML_AVX512_BF16=OFF", "-DGGML_AVX_VNNI=OFF",
      "-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF",
    ],
  },
  notes: ["CPU inference (node-llama-cpp's prebuilt on a CPU without AVX2); TPM2 unlock where the PC has one"],
};
