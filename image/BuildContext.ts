import type { BoardProfile, UnlockMethod } from "./boards/BoardProfile.js";
import type { Distro } from "./distros/Distro.js";
import type { ImageLayout } from "./lib/abLayout.js";

export type Compression = "zstd" | "xz" | "none";

/** What the user asked for (`sovereign image build` flags), already parsed. */
export interface BuildOptions {
  board: string;
  /** The distribution the rootfs is built from (image/distros/registry.ts). Defaults to debian. */
  distro?: string;
  /** Output directory. Defaults to ./out. */
  out: string;
  /** Raw image size in bytes; the root partition stays tight and grows at first boot. Defaults to the tight size. */
  sizeBytes?: number;
  /** Defaults to the board's first unlock method (passphrase). */
  unlock?: UnlockMethod;
  /** The build passphrase; kept as the unlock/recovery passphrase. Defaults to a random one written next to the image (0600). */
  passphraseFile?: string;
  /** authorized_keys for ssh unlock (dropbear in the initramfs). */
  sshKeyFile?: string;
  models: string[];
  hostname?: string;
  /** A setup code chosen by the builder; defaults to one generated on the device at first boot. */
  setupCodeFile?: string;
  /** Debian mirror. Defaults to the host's apt source, else http://deb.debian.org/debian. */
  mirror: string;
  /** Cache for the bootstrap tarball and apt downloads. Defaults to ./.cache/image. */
  cache: string;
  compress: Compression;
  /** Repository root (where dist/ and node_modules/ are). */
  repoRoot: string;
  /** Unpacked NVIDIA L4T BSP or an apt source line (jetson-orin only, opt-in). */
  l4t?: string;
  /** Cheaper argon2id at build (tests): memory KiB; the board cap otherwise. */
  buildPbkdfMemoryKiB?: number;
  /**
   * Test knob: the cipher first boot re-encrypts to, in place of the board's. The x86 e2e uses
   * Adiantum to boot the Pi 4's first-boot path (AES-XTS build, Adiantum device) under qemu.
   */
  deviceCipher?: string;
  /**
   * usb-key: seconds the initramfs waits for the key stick before it asks for the recovery key, put on the
   * kernel command line as `sovereign.keywait=` (UEFI boards). Defaults to the keyscript's 60 (tests use less).
   */
  usbKeyWaitSeconds?: number;
  /**
   * "ab": the ESP, two system slots and a LUKS2 data partition, updated with signed bundles
   * (image/lib/abLayout.ts). "single" (default): one encrypted root.
   */
  layout?: ImageLayout;
  /** The runtime version the image (or bundle) carries in /opt/sovereign/package.json; defaults to the repository's. */
  version?: string;
  /** Test knob (A/B layout): update.healthGateSeconds in the image's config, so a trial commits sooner under emulation. */
  healthGateSeconds?: number;
  /** Stop after this step (tests and debugging). */
  stopAfter?: string;
  /** The update key the image trusts (a secret key file, or a public key in hex); defaults to the build key. */
  updateKeyFile?: string;
  /** Test images: a unit that writes a status line to this serial port once the system settles (e.g. ttyS1). */
  statusTty?: string;
  /** Skip the root/free-space checks (unit tests of the pre-flight logic only). */
  dryRun?: boolean;
}

export interface StepTiming {
  step: string;
  seconds: number;
  skipped: boolean;
  note?: string;
}

/**
 * What every step may read: the request, the board and distro, the scratch
 * paths. What steps produce is not here: each step returns its own typed
 * output (./StepOutputs.ts) and the pipeline hands it to the steps that need it.
 */
export interface BuildContext {
  readonly options: BuildOptions;
  readonly board: BoardProfile;
  readonly distro: Distro;
  readonly unlock: UnlockMethod;
  /** Image base name, e.g. sovereign-x86_64-20261121. */
  readonly name: string;
  /** Scratch directory for this build (removed at the end). */
  readonly work: string;
  readonly rootfs: string;
  readonly logFile: string;
  /** Timings of the steps run so far (the manifest records them). */
  readonly timings: readonly StepTiming[];
  progress(message: string): void;
  /** A file outside the scratch dir that must not outlive the build (a .partial, the unnamed disk): removed at the end, whatever happens. */
  discardAtEnd(path: string): void;
  /** A file for the user that is of no use if the build fails (the passphrase, the key stick image): removed only then. */
  discardOnFailure(path: string): void;
}
