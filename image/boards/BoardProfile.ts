/**
 * A board profile: what the image builder needs to make a bootable disk for
 * the board, and the runtime defaults the board's layer adds to the config.
 * Profiles are data; `boardProfileSchema` (./schema.ts) validates them.
 */
export interface BoardProfile {
  readonly id: string;
  readonly title: string;
  readonly arch: "amd64" | "arm64";
  /** Config values this board's images start from (the "board" config layer). */
  readonly runtime: Readonly<Record<string, unknown>>;
  /** How the firmware finds the boot files. */
  readonly boot: UefiBoot | RaspberryPiBoot;
  /** Partition table label and sizes. The root partition takes the rest of the image. */
  readonly partitions: {
    readonly table: "gpt" | "dos";
    /** ESP or Pi firmware partition (FAT), in MiB. */
    readonly bootMiB: number;
  };
  /** Debian packages: kernel, firmware, anything board-specific. */
  readonly packages: {
    readonly kernel: readonly string[];
    readonly firmware: readonly string[];
    readonly extra: readonly string[];
  };
  /** Apt components the board needs beyond main (raspi-firmware is in non-free-firmware). */
  readonly components: readonly ("main" | "contrib" | "non-free" | "non-free-firmware")[];
  /** Extra apt suites, e.g. trixie-backports for the Pi 5 kernel. */
  readonly extraSuites: readonly string[];
  /** Packages to take from an extra suite (`pkg/suite`). */
  readonly fromSuite: Readonly<Record<string, string>>;
  /** Kernel console the boot and first-boot messages go to. */
  readonly console: string;
  readonly luks: {
    /** cryptsetup cipher spec: aes-xts-plain64, or xchacha12,aes-adiantum-plain64 where there is no AES. */
    readonly cipher: string;
    readonly keySize: 256 | 512;
    /** argon2id memory cap in KiB, sized for the weakest RAM this board ships with. */
    readonly pbkdfMemoryKiB: number;
  };
  /** Unlock methods the board supports; the first is the default. */
  readonly unlock: readonly UnlockMethod[];
  /** Extra environment for sovereign.service (beyond SOVEREIGN_BOARD and paths). */
  readonly serviceEnv: Readonly<Record<string, string>>;
  /**
   * Kernel module trees (under /usr/lib/modules/<version>/kernel) this board
   * cannot use, removed before the initramfs is built; modules that need one
   * of them go too. Defaults to none.
   */
  readonly kernelModulesExclude?: readonly string[];
  /** Notes the `image boards` table shows (GPU support, opt-in layers). */
  readonly notes: readonly string[];
  /** Optional vendor layer (Jetson L4T): never fetched by default. */
  readonly vendorLayer?: {
    readonly name: string;
    readonly description: string;
  };
}

export type UnlockMethod = "passphrase" | "usb-key" | "tpm2" | "ssh";

export interface UefiBoot {
  readonly kind: "uefi";
  /** Removable-media loader name on the ESP (BOOTX64.EFI, BOOTAA64.EFI). */
  readonly loaderName: string;
  /** Path of the systemd-boot binary inside the rootfs. */
  readonly systemdBootEfi: string;
}

export interface RaspberryPiBoot {
  readonly kind: "raspberrypi";
  /** Lines raspi-firmware's own config (/etc/default/raspi-firmware-custom) adds to config.txt. */
  readonly configTxtExtra: readonly string[];
  /** DTB files to expect in the firmware partition (checked after assembly). */
  readonly dtbs: readonly string[];
}
