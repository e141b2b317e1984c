import { z } from "zod";

const pkgName = z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, "a Debian package name");

/**
 * The schema every board profile must satisfy. Pure data checks; the
 * cross-field rules (UEFI boards use GPT, Adiantum needs a 256-bit key, …)
 * are refinements so that a bad profile names the rule it breaks.
 */
export const boardProfileSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "lowercase id usable in a hostname"),
    title: z.string().min(1),
    arch: z.enum(["amd64", "arm64"]),
    runtime: z.record(z.string(), z.unknown()),
    boot: z.discriminatedUnion("kind", [
      z.object({
        kind: z.literal("uefi"),
        loaderName: z.enum(["BOOTX64.EFI", "BOOTAA64.EFI"]),
        systemdBootEfi: z.string().regex(/^usr\/lib\/systemd\/boot\/efi\/systemd-boot(x64|aa64)\.efi$/),
      }),
      z.object({
        kind: z.literal("raspberrypi"),
        configTxtExtra: z.array(z.string().regex(/^[a-z_0-9]+=.+$/, "config.txt line key=value")),
        dtbs: z.array(z.string().endsWith(".dtb")).min(1),
      }),
    ]),
    partitions: z.object({
      table: z.enum(["gpt", "dos"]),
      bootMiB: z.number().int().min(64).max(2048),
    }),
    packages: z.object({
      kernel: z.array(pkgName).min(1),
      firmware: z.array(pkgName),
      extra: z.array(pkgName),
    }),
    components: z.array(z.enum(["main", "contrib", "non-free", "non-free-firmware"])).min(1),
    extraSuites: z.array(z.string().regex(/^trixie(-[a-z]+)?$/)),
    fromSuite: z.record(z.string(), z.string()),
    console: z.string().regex(/^tty[A-Za-z0-9]+(,\d+)?$/),
    luks: z.object({
      cipher: z.enum(["aes-xts-plain64", "xchacha12,aes-adiantum-plain64", "xchacha20,aes-adiantum-plain64"]),
      keySize: z.union([z.literal(256), z.literal(512)]),
      pbkdfMemoryKiB: z.number().int().min(32_768).max(4_194_304),
    }),
    unlock: z.array(z.enum(["passphrase", "usb-key", "tpm2", "ssh"])).min(1),
    serviceEnv: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string()),
    kernelModulesExclude: z.array(z.string().regex(/^(arch|crypto|drivers|fs|net|sound|virt)(\/[a-z0-9_.-]+)*$/, "a directory under the kernel's module tree, e.g. drivers/media")).optional(),
    notes: z.array(z.string()),
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
  .refine((b) => b.arch === "amd64" || !b.unlock.includes("tpm2"), { message: "tpm2 unlock is offered on x86 only", path: ["unlock"] })
  .refine((b) => Object.values(b.fromSuite).every((s) => b.extraSuites.includes(s)), { message: "fromSuite names a suite that extraSuites does not add", path: ["fromSuite"] });

/** Validates a profile (or fixture); returns the problems as "path: message" lines. */
export function validateBoardProfile(value: unknown): { ok: true } | { ok: false; problems: string[] } {
  const r = boardProfileSchema.safeParse(value);
  if (r.success) return { ok: true };
  return { ok: false, problems: r.error.issues.map((i) => `${i.path.join(".") || "(profile)"}: ${i.message}`) };
}
