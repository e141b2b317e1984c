import type { Command } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import { printResult } from "../output.js";
import { boards } from "../../../image/boards/registry.js";
import type { UnlockMethod } from "../../../image/boards/BoardProfile.js";
import type { BuildOptions, Compression } from "../../../image/BuildContext.js";
import { runBuild } from "../../../image/pipeline.js";
import { distros } from "../../../image/distros/registry.js";
import { flashImage } from "../../../image/flash.js";
import { parseSize } from "../../../image/lib/size.js";
import { buildBundle } from "../../../image/bundle.js";
import { packageVersion } from "../../../core/packageVersion.js";

/** The Debian mirror the host's own apt uses, so the build goes where apt already can. */
/** Test knobs from the environment (the e2e suites set them; nothing a user needs): the same for a build and a bundle. */
function testKnobs(): Partial<BuildOptions> {
  const e = process.env;
  return {
    ...(e.SOVEREIGN_IMAGE_TEST_PBKDF_KIB ? { buildPbkdfMemoryKiB: Number(e.SOVEREIGN_IMAGE_TEST_PBKDF_KIB) } : {}),
    ...(e.SOVEREIGN_IMAGE_STATUS_TTY ? { statusTty: e.SOVEREIGN_IMAGE_STATUS_TTY } : {}),
    ...(e.SOVEREIGN_IMAGE_TEST_DEVICE_CIPHER ? { deviceCipher: e.SOVEREIGN_IMAGE_TEST_DEVICE_CIPHER } : {}),
    ...(e.SOVEREIGN_IMAGE_STOP_AFTER ? { stopAfter: e.SOVEREIGN_IMAGE_STOP_AFTER } : {}),
    ...(e.SOVEREIGN_IMAGE_TEST_KEY_WAIT_S ? { usbKeyWaitSeconds: Number(e.SOVEREIGN_IMAGE_TEST_KEY_WAIT_S) } : {}),
    ...(e.SOVEREIGN_IMAGE_TEST_HEALTH_GATE_S ? { healthGateSeconds: Number(e.SOVEREIGN_IMAGE_TEST_HEALTH_GATE_S) } : {}),
  };
}

export function hostMirror(readText: (p: string) => string | undefined = (p) => (existsSync(p) ? readFileSync(p, "utf8") : undefined)): string {
  for (const f of ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]) {
    const t = readText(f);
    if (!t) continue;
    const m = /^URIs:\s*(\S+\/debian)\/?\s*$/m.exec(t) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s/m.exec(t);
    if (m?.[1]) return m[1];
  }
  return "http://deb.debian.org/debian";
}

function boardTable(): string {
  const rows = boards.map((b) => [b.id, b.arch, b.boot.kind === "uefi" ? `UEFI/${b.partitions.table}` : `Pi firmware/${b.partitions.table}`, b.luks.cipher, `${b.luks.pbkdfMemoryKiB / 1024} MiB`, b.unlock.join(","), b.llamaCpu.title, b.notes.join("; ")]);
  const head = ["board", "arch", "boot", "LUKS cipher", "KDF cap", "unlock", "llama.cpp built for", "notes"];
  const last = head.length - 1;
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (i < last ? (r[i] ?? "").length : 0))));
  const line = (r: string[]): string => r.map((c, i) => (i < last ? c.padEnd(widths[i] ?? 0) : c)).join("  ");
  return [line(head), ...rows.map(line)].join("\n");
}

export function registerImageCommand(program: Command): void {
  const image = program.command("image").description("Build, list and flash Sovereign Node disk images (runs on a Linux build host).");

  image
    .command("boards")
    .description("List the boards the builder knows and what each supports.")
    .option("--json", "machine-readable output")
    .action((opts: { json?: boolean }) => {
      const value = boards.map((b) => ({ id: b.id, title: b.title, arch: b.arch, boot: b.boot.kind, partitionTable: b.partitions.table, cipher: b.luks.cipher, pbkdfMemoryKiB: b.luks.pbkdfMemoryKiB, unlock: b.unlock, packages: b.packages, notes: b.notes, vendorLayer: b.vendorLayer ?? null }));
      printResult(Boolean(opts.json), value, boardTable);
    });

  image
    .command("build")
    .description("Build an encrypted Debian trixie disk image for a board (needs root).")
    .requiredOption("--board <id>", `the board: ${boards.map((b) => b.id).join(" | ")}`)
    .option("--distro <id>", `the distribution the rootfs is built from: ${distros.map((d) => d.id).join(" | ")} (default ${distros[0]?.id ?? ""})`)
    .option("--out <dir>", "output directory", "out")
    .option("--size <size>", "raw image size (e.g. 8G); the root grows to fill the medium at first boot anyway")
    .option("--unlock <method>", "passphrase | usb-key | tpm2 | ssh (defaults to passphrase)")
    .option("--passphrase-file <file>", "the unlock/recovery passphrase (default: generated, written next to the image, 0600)")
    .option("--ssh-key <file>", "authorized_keys for ssh unlock (dropbear in the initramfs)")
    .option("--model <file.gguf...>", "GGUF model(s) to install into the data directory")
    .option("--hostname <name>", "host name (default sovereign-<board>, advertised as <name>.local)")
    .option("--setup-code-file <file>", "a setup code of your own (default: generated on the device at first boot)")
    .option("--mirror <url>", "Debian mirror (default: the host's apt mirror)")
    .option("--cache <dir>", "cache for the bootstrap tarball and apt downloads", ".cache/image")
    .option("--compress <kind>", "zstd | xz | none", "zstd")
    .option("--l4t <path-or-apt-line>", "jetson-orin: NVIDIA L4T BSP directory or apt source line (opt-in)")
    .option("--update-key <file>", "the update key the image trusts (update.trustedKeys): a 32-byte ed25519 secret key or its public key in hex (default: the build key)")
    .option("--layout <kind>", "single (one encrypted root) | ab (two system slots updated with signed bundles, and an encrypted data partition; UEFI boards and the Raspberry Pis, whose firmware tryboots the new slot)", "single")
    .option("--version <v>", "the runtime version the image reports (default: this runtime's package.json version)")
    .option("--json", "print the result as JSON (progress goes to stderr)")
    .action(async (opts: Record<string, string | string[] | boolean | undefined>) => {
      const layout = String(opts.layout);
      if (layout !== "single" && layout !== "ab") throw new SovereignError("IMAGE_OPTION_INVALID", `--layout must be single or ab, not ${layout}`);
      const json = Boolean(opts.json);
      const compress = String(opts.compress) as Compression;
      if (!["zstd", "xz", "none"].includes(compress)) throw new SovereignError("IMAGE_OPTION_INVALID", `--compress must be zstd, xz or none, not ${compress}`);
      const unlock = opts.unlock as UnlockMethod | undefined;
      if (unlock && !["passphrase", "usb-key", "tpm2", "ssh"].includes(unlock)) throw new SovereignError("IMAGE_OPTION_INVALID", `--unlock must be passphrase, usb-key, tpm2 or ssh, not ${unlock}`);
      let sizeBytes: number | undefined;
      if (opts.size) {
        sizeBytes = parseSize(String(opts.size));
        if (!sizeBytes) throw new SovereignError("IMAGE_OPTION_INVALID", `--size ${String(opts.size)} is not a size like 8G or 4096M`);
      }
      const options: BuildOptions = {
        board: String(opts.board),
        ...(opts.distro ? { distro: String(opts.distro) } : {}),
        out: String(opts.out),
        ...(sizeBytes ? { sizeBytes } : {}),
        ...(unlock ? { unlock } : {}),
        ...(opts.passphraseFile ? { passphraseFile: String(opts.passphraseFile) } : {}),
        ...(opts.sshKey ? { sshKeyFile: String(opts.sshKey) } : {}),
        models: ((opts.model as string[] | undefined) ?? []).map((m) => resolve(m)),
        ...(opts.hostname ? { hostname: String(opts.hostname) } : {}),
        ...(opts.setupCodeFile ? { setupCodeFile: String(opts.setupCodeFile) } : {}),
        mirror: opts.mirror ? String(opts.mirror) : hostMirror(),
        cache: String(opts.cache),
        compress,
        repoRoot: resolve(import.meta.dirname, "../../.."),
        ...(opts.l4t ? { l4t: String(opts.l4t) } : {}),
        ...(opts.updateKey ? { updateKeyFile: resolve(String(opts.updateKey)) } : {}),
        layout,
        ...(opts.version ? { version: String(opts.version) } : {}),
        ...testKnobs(),
      };
      // repoRoot: from dist/appliance/cli/commands up three is dist/; the repo is one more up when compiled.
      if (!existsSync(resolve(options.repoRoot, "package.json"))) options.repoRoot = resolve(options.repoRoot, "..");
      const err = (s: string): boolean => process.stderr.write(s);
      const result = await runBuild(options, {
        onStepStart: (step, i, n) => err(`[${i + 1}/${n}] ${step.title}\n`),
        onProgress: (_step, msg) => err(`      ${msg}\n`),
        onStepEnd: (t) => err(`      ${t.skipped ? `skipped: ${t.note ?? ""}` : "done"} (${t.seconds.toFixed(1)} s)\n`),
      });
      printResult(json, result, () =>
        [
          `image:    ${result.image}`,
          `manifest: ${result.manifest}`,
          ...(result.passphraseFile ? [`passphrase (keep it safe): ${result.passphraseFile}`] : []),
          ...(result.usbKeyImage ? [`usb key image (dd to a stick, or copy sovereign.key to a stick labelled SOVKEY): ${result.usbKeyImage}`] : []),
          // Shown this once (the build log and --json name only the file): it opens the disk with every unlock method.
          ...(result.recoveryKeyFile
            ? [`recovery key (write it down, keep it apart from the device; it opens the disk whatever the unlock method): ${readFileSync(result.recoveryKeyFile, "utf8")}`, `  also in ${result.recoveryKeyFile} (0600): move it somewhere safe`]
            : []),
          `total ${result.timings.reduce((s, t) => s + t.seconds, 0).toFixed(0)} s`,
        ].join("\n"),
      );
    });

  image
    .command("bundle")
    .description("Build a signed A/B update bundle for a board: the system slot's root filesystem, kernel, initrd and boot files (needs root, like build).")
    .requiredOption("--board <id>", `the board: ${boards.map((b) => b.id).join(" | ")}`)
    .requiredOption("--out <file>", "the bundle file to write (e.g. sovereign-x86_64-0.2.0.sovupdate)")
    .option("--version <v>", "the version the bundle installs (default: this runtime's package.json version)")
    .option("--unlock <method>", "the unlock method of the nodes it is for (its initrd unlocks their data partition): passphrase | usb-key | ssh (default passphrase)")
    .option("--ssh-key <file>", "ssh unlock: authorized_keys for dropbear in the initrd, as the image was built with")
    .option("--update-key <file>", "ed25519 secret key (32 bytes) that signs the bundle (default: the build key, <cache>/build-key.ed25519)")
    .option("--distro <id>", "the distribution the rootfs is built from")
    .option("--mirror <url>", "Debian mirror (default: the host's apt mirror)")
    .option("--cache <dir>", "cache for the bootstrap tarball, apt downloads and the build key", ".cache/image")
    .option("--json", "print the result as JSON (progress goes to stderr)")
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const repoRoot = resolve(import.meta.dirname, "../../..");
      const root = existsSync(resolve(repoRoot, "package.json")) ? repoRoot : resolve(repoRoot, "..");
      const out = resolve(String(opts.out));
      const err = (s: string): boolean => process.stderr.write(s);
      let lastPct = -1;
      const r = await buildBundle(
        {
          build: {
            board: String(opts.board), out: dirname(out), models: [], cache: String(opts.cache), compress: "none", repoRoot: root,
            mirror: opts.mirror ? String(opts.mirror) : hostMirror(),
            ...(opts.distro ? { distro: String(opts.distro) } : {}),
            ...(opts.unlock ? { unlock: String(opts.unlock) as UnlockMethod } : {}),
            ...(opts.sshKey ? { sshKeyFile: resolve(String(opts.sshKey)) } : {}),
            ...testKnobs(),
          },
          version: opts.version ? String(opts.version) : packageVersion(),
          ...(opts.updateKey ? { updateKeyFile: String(opts.updateKey) } : {}),
          out,
        },
        {
          onStepStart: (step, i) => err(`[${i + 1}] ${step.title}\n`),
          onProgress: (_step, msg) => err(`      ${msg}\n`),
          onStepEnd: (t) => err(`      ${t.skipped ? `skipped: ${t.note ?? ""}` : "done"} (${t.seconds.toFixed(1)} s)\n`),
          onPack: (phase, done, total) => {
            const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
            if (pct !== lastPct && pct % 10 === 0) err(`bundle ${phase} ${pct}%\n`);
            lastPct = pct;
          },
        },
      );
      printResult(Boolean(opts.json), { path: r.path, bytes: r.bytes, version: r.manifest.version, board: r.manifest.board, parts: r.manifest.parts, publicKey: r.publicKey, buildSeconds: r.buildSeconds }, () =>
        [
          `bundle:  ${r.path} (${r.bytes} bytes)`,
          `version: ${r.manifest.version} for ${r.manifest.board}; parts: ${r.manifest.parts.map((p) => `${p.name} ${p.size}${p.encoding ? ` (${p.encoding} ${p.storedSize ?? 0})` : ""}`).join(", ")}`,
          `signed by ${r.publicKey} (nodes accept it when update.trustedKeys lists this key)`,
        ].join("\n"),
      );
    });

  image
    .command("flash <image>")
    .description("Write an image (.img, .img.zst, .img.xz) to a removable disk and verify it by reading back.")
    .requiredOption("--device <dev>", "the whole target disk, e.g. /dev/sdb")
    .option("--yes", "do not ask for confirmation")
    .option("--json", "machine-readable output")
    .action(async (img: string, opts: { device: string; yes?: boolean; json?: boolean }) => {
      const r = await flashImage(img, opts.device, { yes: Boolean(opts.yes), onProgress: (m) => process.stderr.write(`${m}\n`) });
      printResult(Boolean(opts.json), r, () => `wrote ${r.bytes} bytes to ${r.device}; verified sha256 ${r.sha256}`);
    });
}
