import type { InstalledPackage } from "./distros/Distro.js";
import type { SlotVerity } from "../core/bootSelection.js";
import type { BootIds } from "./lib/bootConfig.js";

/** A file with its digest: models in the image, artefacts beside it. */
export interface FileDigest {
  file: string;
  sha256: string;
  bytes: number;
}

/** keys: the build passphrase, and where it and the key stick were written for the user. */
export interface BuildKeys {
  buildKey: Buffer;
  /** The generated passphrase beside the image (0600); absent when the user gave --passphrase-file. */
  passphraseFile?: string;
  /** usb-key unlock: a FAT image labelled SOVKEY holding the key file. */
  usbKeyImage?: string;
  /** The recovery key (`XXXXX-XXXXX-…`, image/lib/recoveryKey.ts), in its own keyslot whatever the unlock method. */
  recoveryKey: string;
  /** Where it was written, once, beside the image (0600). */
  recoveryKeyFile: string;
}

/** bootstrap: the rootfs tree is extracted; from which tarball. */
export interface Bootstrapped {
  tarball: string;
  cacheHit: boolean;
}

/** runtime: /opt/sovereign as staged. */
export interface RuntimeInstalled {
  version: string;
  bytes: number;
  nodeModules: string[];
}

/** llama-addon: the board's llama.cpp build in /opt/sovereign, and how it was tried there. */
export interface LlamaAddonBuilt {
  /** The board profile's llamaCpu title and flags. */
  cpu: string;
  isa: readonly string[];
  /** The stripped addon's size. */
  bytes: number;
  /** Compile time, or the cache's few seconds. */
  buildSeconds: number;
  /** The CPU it was loaded on in the rootfs (qemu-user's model, or "host"); null when not tried. */
  ranAs: string | null;
  /** Tokens generated there with the smallest --model; null without one. */
  generatedTokens: number | null;
}

/** configure: the identifiers chosen before anything is encrypted, so crypttab, fstab and the initramfs can name them. */
export interface Configured {
  ids: BootIds;
  hostname: string;
  /** `systemd-analyze security sovereign.service` (offline, the image's systemd): 0 best, 10 worst; null if unreadable. */
  exposure: number | null;
}

export interface ModelsInstalled {
  models: FileDigest[];
}

/** boot-partition: the FAT image (ESP or Pi firmware; in the Pi A/B layout, a slot's boot partition). */
export interface BootPartition {
  image: string;
  bytes: number;
  /** Raspberry Pi A/B layout: partition 1, holding autoboot.txt. */
  autoboot?: { image: string; bytes: number };
}

/** rootfs-image: ext4 as a file, with room at its end for the LUKS header. */
export interface RootFilesystem {
  image: string;
  fsBytes: number;
}

/** slot-verity: the A/B slot's root filesystem with its hash tree appended, and the tree's root hash. */
export interface VeritySlot {
  image: string;
  /** Filesystem and hash tree: what slot A holds and a bundle's root part carries. */
  bytes: number;
  verity: SlotVerity;
}

/** encrypt: the root image, now LUKS2 (encrypted in place), and the cipher it ships with. */
export interface EncryptedRoot {
  image: string;
  buildCipher: string;
}

/** assemble: the raw disk, still under a temporary name. */
export interface AssembledDisk {
  path: string;
  bytes: number;
  /** The partition table written: the board's, or GPT for every A/B layout. */
  table: "gpt" | "dos";
}

/** compress: the image under its final name. */
export interface CompressedImage {
  image: string;
}

/** manifest: the signed manifest and what it lists. */
export interface SignedManifest {
  path: string;
  files: FileDigest[];
  packages: InstalledPackage[];
}

/**
 * What each step yields, by step name. A step declares the earlier steps it
 * reads (`needs`) and gets exactly their outputs, so reading a value that no
 * earlier step produced does not compile (./pipeline.ts checks the order).
 * `void`: the step works on the rootfs tree and yields no value.
 */
export interface StepOutputs {
  preflight: void;
  keys: BuildKeys;
  bootstrap: Bootstrapped;
  runtime: RuntimeInstalled;
  packages: void;
  /** The CUDA llama.cpp runner (jetson-orin with --l4t), in /opt/sovereign's node-llama-cpp local builds. */
  "cuda-runner": void;
  "llama-addon": LlamaAddonBuilt;
  configure: Configured;
  models: ModelsInstalled;
  "kernel-modules": void;
  initramfs: void;
  "boot-partition": BootPartition;
  /** The A/B layout's data partition (ext4 with the LUKS header's room); null for one encrypted root. */
  "data-image": RootFilesystem | null;
  "rootfs-image": RootFilesystem;
  /** The A/B layout's verity slot; null for one encrypted root. */
  "slot-verity": VeritySlot | null;
  encrypt: EncryptedRoot;
  assemble: AssembledDisk;
  compress: CompressedImage;
  manifest: SignedManifest;
}
