import { z } from "zod";

const pkgName = z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, "a Debian package name");
const moduleName = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "a kernel module name, e.g. xhci_pci");

/** How a disk is unlocked at boot; a board lists those it supports, the first being its default. */
export const unlockMethodSchema = z.enum(["passphrase", "usb-key", "tpm2", "ssh"]);

/** cryptsetup cipher spec: aes-xts-plain64, or Adiantum where there is no AES. */
export const luksCipherSchema = z.enum(["aes-xts-plain64", "xchacha12,aes-adiantum-plain64", "xchacha20,aes-adiantum-plain64"]);

const uefiBootSchema = z.object({
  kind: z.literal("uefi"),
  /** Removable-media loader name on the ESP (BOOTX64.EFI, BOOTAA64.EFI). */
  loaderName: z.enum(["BOOTX64.EFI", "BOOTAA64.EFI"]),
  /** Path of the systemd-boot binary inside the rootfs. */
  systemdBootEfi: z.string().regex(/^usr\/lib\/systemd\/boot\/efi\/systemd-boot(x64|aa64)\.efi$/),
});

const raspberryPiBootSchema = z.object({
  kind: z.literal("raspberrypi"),
  /** Lines raspi-firmware's own config (/etc/default/raspi-firmware-custom) adds to config.txt. */
  configTxtExtra: z.array(z.string().regex(/^[a-z_0-9]+=.+$/, "config.txt line key=value")),
  /** DTB files to expect in the firmware partition (checked after assembly). */
  dtbs: z.array(z.string().endsWith(".dtb")).min(1),
});

/**
 * A board profile: what the image builder needs to make a bootable disk for
 * the board, and the runtime defaults the board's layer adds to the config.
 * Profiles are data, and this schema is their one definition: the
 * `BoardProfile` type (./BoardProfile.ts) is inferred from it. The
 * cross-field rules (UEFI boards use GPT, Adiantum needs a 256-bit key, …)
 * are refinements, so that a bad profile names the rule it breaks.
 */
export const boardProfileSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "lowercase id usable in a hostname"),
    title: z.string().min(1),
    arch: z.enum(["amd64", "arm64"]),
    /** Config values this board's images start from (the "board" config layer). */
    runtime: z.record(z.string(), z.unknown()),
    /** How the firmware finds the boot files. */
    boot: z.discriminatedUnion("kind", [uefiBootSchema, raspberryPiBootSchema]),
    /** Partition table label and sizes. The root partition takes the rest of the image. */
    partitions: z.object({
      table: z.enum(["gpt", "dos"]),
      /** ESP or Pi firmware partition (FAT), in MiB. */
      bootMiB: z.number().int().min(64).max(2048),
    }),
    /** Debian packages: kernel (layer 1, shared per arch), firmware and extra (the board's layer 2). */
    packages: z.object({
      kernel: z.array(pkgName).min(1),
      firmware: z.array(pkgName),
      extra: z.array(pkgName),
    }),
    /** Apt components the board needs beyond main (raspi-firmware is in non-free-firmware). */
    components: z.array(z.enum(["main", "contrib", "non-free", "non-free-firmware"])).min(1),
    /** Extra apt suites, e.g. trixie-backports for the Pi 5 kernel. */
    extraSuites: z.array(z.string().regex(/^trixie(-[a-z]+)?$/)),
    /** Packages to take from an extra suite (`pkg/suite`). */
    fromSuite: z.record(z.string(), z.string()),
    /** Kernel console the boot and first-boot messages go to. */
    console: z.string().regex(/^tty[A-Za-z0-9]+(,\d+)?$/),
    luks: z.object({
      cipher: luksCipherSchema,
      keySize: z.union([z.literal(256), z.literal(512)]),
      /** argon2id memory cap in KiB, sized for the weakest RAM this board ships with. */
      pbkdfMemoryKiB: z.number().int().min(32_768).max(4_194_304),
    }),
    /** Unlock methods the board supports; the first is the default. */
    unlock: z.array(unlockMethodSchema).min(1),
    /** Extra environment for sovereign.service (beyond SOVEREIGN_BOARD and paths). */
    serviceEnv: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string()),
    /**
     * Kernel module trees (under /usr/lib/modules/<version>/kernel) this board
     * cannot use, removed before the initramfs is built; modules that need one
     * of them go too. Defaults to none.
     */
    kernelModulesExclude: z.array(z.string().regex(/^(arch|crypto|drivers|fs|net|sound|virt)(\/[a-z0-9_.-]+)*$/, "a directory under the kernel's module tree, e.g. drivers/media")).optional(),
    /**
     * Kernel modules the initramfs must hold (or the kernel have built in) for this board to unlock: the
     * disk's controller, the USB host (the key stick, a USB root disk), the keyboard (a passphrase or the
     * recovery key typed at the console) and, for ssh unlock only, the Ethernet drivers. The initramfs step
     * forces them in and fails the build if one is missing from the built initrd; names as modprobe takes them.
     */
    initramfsModules: z.object({
      storage: z.array(moduleName).min(1),
      usbHost: z.array(moduleName),
      keyboard: z.array(moduleName),
      network: z.array(moduleName),
    }),
    /**
     * The CPU the image's llama.cpp build (node-llama-cpp's addon with our thread-pool patch, issue 19) is
     * compiled for: ggml's cmake flags, written beside the build as `sovereign-isa` for the runner's check
     * (hardware/llamaLocalBuild.ts), and for arm64 the qemu-user CPU model the build is tried on while the
     * image is made (`-cpu`: the board's own core, or the closest qemu has).
     */
    llamaCpu: z.object({
      title: z.string().min(1),
      isa: z.array(z.string().regex(/^-DGGML_[A-Z0-9_]+=[A-Za-z0-9.+_-]+$/, "a ggml cmake flag, e.g. -DGGML_AVX2=ON")).min(1),
      qemuCpu: z.string().regex(/^[a-z0-9-]+$/).optional(),
    }),
    /** Notes the `image boards` table shows (GPU support, opt-in layers). */
    notes: z.array(z.string()),
    /** Optional vendor layer (Jetson L4T): never fetched by default. */
    vendorLayer: z.object({ name: z.string(), description: z.string() }).optional(),
  })
  .strict()
  .refine((b) => b.components.includes("main"), { message: "components must include main", path: ["components"] })
  .refine((b) => b.boot.kind !== "uefi" || b.partitions.table === "gpt", { message: "UEFI boards use a GPT partition table", path: ["partitions", "table"] })
  .refine((b) => b.boot.kind !== "uefi" || (b.arch === "amd64") === (b.boot.loaderName === "BOOTX64.EFI"), { message: "the UEFI loader name must match the architecture", path: ["boot", "loaderName"] })
  .refine((b) => b.boot.kind !== "raspberrypi" || b.arch === "arm64", { message: "Raspberry Pi boards are arm64", path: ["arch"] })
  .refine((b) => b.boot.kind !== "raspberrypi" || b.packages.firmware.includes("raspi-firmware"), { message: "Raspberry Pi boards need raspi-firmware", path: ["packages", "firmware"] })
  .refine((b) => b.boot.kind !== "raspberrypi" || b.components.includes("non-free-firmware"), { message: "raspi-firmware is in non-free-firmware", path: ["components"] })
  .refine((b) => !b.luks.cipher.includes("adiantum") || b.luks.keySize === 256, { message: "Adiantum takes a 256-bit key", path: ["luks", "keySize"] })
  .refine((b) => !b.llamaCpu.isa.includes("-DGGML_NATIVE=ON"), { message: "a board's llama.cpp build names its CPU's flags: GGML_NATIVE tunes to the build host", path: ["llamaCpu", "isa"] })
  .refine((b) => (b.arch === "arm64") === b.llamaCpu.isa.some((f) => f.startsWith("-DGGML_CPU_ARM_ARCH=")), { message: "arm64 boards (and only they) name GGML_CPU_ARM_ARCH", path: ["llamaCpu", "isa"] })
  .refine((b) => b.arch === "amd64" || !b.unlock.includes("tpm2"), { message: "tpm2 unlock is offered on x86 only", path: ["unlock"] })
  .refine((b) => Object.values(b.fromSuite).every((s) => b.extraSuites.includes(s)), { message: "fromSuite names a suite that extraSuites does not add", path: ["fromSuite"] });

/** Validates a profile (or fixture); returns the problems as "path: message" lines. */
export function validateBoardProfile(value: unknown): { ok: true } | { ok: false; problems: string[] } {
  const r = boardProfileSchema.safeParse(value);
  if (r.success) return { ok: true };
  return { ok: false, problems: r.error.issues.map((i) => `${i.path.join(".") || "(profile)"}: ${i.message}`) };
}
