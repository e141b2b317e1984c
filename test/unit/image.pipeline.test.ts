import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { findBoard } from "../../image/boards/registry.js";
import type { BuildOptions } from "../../image/BuildContext.js";
import { createContext, pipeline, resolveBoard } from "../../image/pipeline.js";
import { clearAptLists } from "../../image/lib/aptInChroot.js";
import { baseKey, basePackages, basePackagesFor, baseSourceLines, boardLayerPackages, bootstrapKey } from "../../image/steps/bootstrap.js";
import { encryptArgs } from "../../image/steps/encrypt.js";
import { firstbootConfig } from "../../image/lib/units.js";
import { missingTools, preflightStep } from "../../image/steps/preflight.js";
import { ext4SizeFor, tightExt4Bytes } from "../../image/steps/rootfsImage.js";
import { compressCommand, compressedName } from "../../image/steps/compress.js";
import { headerCheck } from "../../image/lib/ggufCheck.js";

const tmp = mkdtempSync(join(tmpdir(), "sov-image-unit-"));
const opts = (o: Partial<BuildOptions> = {}): BuildOptions => ({
  board: "x86_64", out: join(tmp, "out"), models: [], mirror: "http://deb.debian.org/debian", cache: join(tmp, "cache"), compress: "zstd", repoRoot: tmp, dryRun: true, ...o,
});
const code = async (p: Promise<unknown>): Promise<string> => p.then(() => "resolved", (e: unknown) => (e instanceof SovereignError ? e.code : `not coded: ${String(e)}`));

describe("the pipeline", () => {
  it("runs the named steps in the documented order", () => {
    expect(pipeline.map((s) => s.name)).toEqual([
      "preflight", "bootstrap", "runtime", "packages", "configure", "models", "kernel-modules", "initramfs",
      "boot-partition", "rootfs-image", "encrypt", "assemble", "compress", "manifest",
    ]);
    expect(new Set(pipeline.map((s) => s.name)).size).toBe(pipeline.length);
  });

  it("refuses an unknown board before anything else", () => {
    expect(() => resolveBoard("pdp11")).toThrow(/unknown board "pdp11"/);
    try {
      resolveBoard("pdp11");
    } catch (e) {
      expect((e as SovereignError).code).toBe("IMAGE_UNKNOWN_BOARD");
    }
  });

  it("defaults the unlock method to the board's first (passphrase)", () => {
    expect(createContext(opts()).unlock).toBe("passphrase");
  });
});

describe("pre-flight refusals (no work done)", () => {
  it("an unlock method the board lacks", async () => {
    expect(await code(preflightStep.run(createContext(opts({ board: "rpi4", unlock: "tpm2" }))))).toBe("IMAGE_UNLOCK_UNSUPPORTED");
  });

  it("ssh unlock without a key", async () => {
    expect(await code(preflightStep.run(createContext(opts({ unlock: "ssh" }))))).toBe("IMAGE_OPTION_INVALID");
  });

  it("a --model that is not a GGUF", async () => {
    const bad = join(tmp, "not-a-model.gguf");
    writeFileSync(bad, "this is text, not a model, and it is long enough");
    expect(await code(preflightStep.run(createContext(opts({ models: [bad] }))))).toBe("IMAGE_MODEL_INVALID");
    expect(await code(preflightStep.run(createContext(opts({ models: [join(tmp, "missing.gguf")] }))))).toMatch(/IMAGE_(MODEL_INVALID|INPUT_MISSING)/);
  });

  it("a missing host tool names its Debian package", () => {
    const ctx = createContext(opts());
    const missing = missingTools(ctx, (t) => t !== "mkfs.vfat" && t !== "sfdisk");
    expect(missing).toEqual([{ tool: "mkfs.vfat", pkg: "dosfstools" }, { tool: "sfdisk", pkg: "fdisk" }]);
    const arm = missingTools(createContext(opts({ board: "rpi4" })), (t) => !t.startsWith("qemu"));
    if (process.arch === "x64") expect(arm.map((m) => m.pkg).join()).toContain("qemu-user-static");
  });

  it("--l4t on a board without a vendor layer", async () => {
    expect(await code(preflightStep.run(createContext(opts({ l4t: "/nonexistent" }))))).toBe("IMAGE_OPTION_INVALID");
    expect(await code(preflightStep.run(createContext(opts({ board: "jetson-orin", l4t: "/nonexistent" }))))).toBe("IMAGE_VENDOR_LAYER_MISSING");
  });
});

describe("bootstrap inputs", () => {
  it("layer 1 has the base set and the kernel; layer 2 the board's firmware and boot packages; backports packages carry their suite", () => {
    const x = findBoard("x86_64")!;
    for (const p of [...basePackages, "linux-image-amd64"]) expect(basePackagesFor(x)).toContain(p);
    expect(boardLayerPackages(x)).toEqual(["systemd-boot-efi"]);
    expect(boardLayerPackages(findBoard("rpi4")!)).toEqual(["raspi-firmware", "firmware-brcm80211"]);
    expect(basePackagesFor(findBoard("rpi5")!)).toContain("linux-image-arm64/trixie-backports");
    // Layer 1 takes main only, so that boards differing in components still share it.
    expect(baseSourceLines(findBoard("rpi5")!, "http://m/debian")).toEqual(["deb http://m/debian trixie main", "deb http://m/debian trixie-backports main"]);
  });

  it("arm64 boards with the same kernel share layer 1 but not the board tarball", () => {
    const [rpi4, uefi, jetson, rpi5] = (["rpi4", "arm64-uefi", "jetson-orin", "rpi5"] as const).map((id) => findBoard(id)!);
    const m = "http://a/debian";
    expect(baseKey(rpi4!, m)).toBe(baseKey(uefi!, m));
    expect(baseKey(jetson!, m)).toBe(baseKey(uefi!, m));
    // The Pi 5's kernel comes from backports: another layer 1.
    expect(baseKey(rpi5!, m)).not.toBe(baseKey(rpi4!, m));
    expect(bootstrapKey(rpi4!, m)).not.toBe(bootstrapKey(uefi!, m));
    // arm64-uefi and jetson-orin differ in components (non-free-firmware), so in the image's apt sources.
    expect(bootstrapKey(jetson!, m)).not.toBe(bootstrapKey(uefi!, m));
  });

  it("after apt in the rootfs, the lists and apt's binary caches go, the lock and the host's bound .deb cache stay", () => {
    const r = join(tmp, "rootfs-apt");
    mkdirSync(join(r, "var/lib/apt/lists/partial"), { recursive: true });
    mkdirSync(join(r, "var/cache/apt/archives"), { recursive: true });
    for (const f of ["var/lib/apt/lists/deb.debian.org_debian_dists_trixie_InRelease", "var/lib/apt/lists/lock", "var/cache/apt/pkgcache.bin", "var/cache/apt/srcpkgcache.bin", "var/cache/apt/archives/zstd_1.5_arm64.deb"]) {
      writeFileSync(join(r, f), "x");
    }
    clearAptLists(r);
    expect(readdirSync(join(r, "var/lib/apt/lists")).sort()).toEqual(["lock", "partial"]);
    expect(readdirSync(join(r, "var/cache/apt"))).toEqual(["archives"]);
    expect(readdirSync(join(r, "var/cache/apt/archives"))).toEqual(["zstd_1.5_arm64.deb"]);
  });

  it("the cache keys change with the inputs and not otherwise", () => {
    const b = findBoard("x86_64")!;
    expect(bootstrapKey(b, "http://a/debian")).toBe(bootstrapKey(b, "http://a/debian"));
    expect(bootstrapKey(b, "http://a/debian")).not.toBe(bootstrapKey(b, "http://b/debian"));
    expect(baseKey(b, "http://a/debian")).not.toBe(baseKey(b, "http://b/debian"));
    expect(bootstrapKey(b, "http://a/debian")).not.toBe(bootstrapKey(findBoard("arm64-uefi")!, "http://a/debian"));
  });
});

describe("encryption and sizing", () => {
  it("encrypts offline with the board's cipher, the fixed UUID and a capped argon2id", () => {
    const ctx = createContext(opts({ board: "rpi4" }));
    ctx.state.luksUuid = "0b5c7f3e-2a43-4c55-9a39-1c1e4b1c2d3e";
    const a = encryptArgs(ctx, "/k", "/root.img");
    expect(a.slice(0, 3)).toEqual(["reencrypt", "--encrypt", "--type"]);
    // Adiantum cannot be applied offline without device-mapper: the image ships AES-XTS, first boot switches.
    expect(a[a.indexOf("--cipher") + 1]).toBe("aes-xts-plain64");
    expect(a[a.indexOf("--key-size") + 1]).toBe("512");
    expect(firstbootConfig(findBoard("rpi4")!, "passphrase", { keepRecoveryPassphrase: true })).toContain("CIPHER=xchacha12,aes-adiantum-plain64\nKEY_SIZE=256\n");
    const x = encryptArgs(createContext(opts()), "/k", "/r");
    expect(x[x.indexOf("--cipher") + 1]).toBe("aes-xts-plain64");
    expect(a[a.indexOf("--uuid") + 1]).toBe(ctx.state.luksUuid);
    expect(a[a.indexOf("--pbkdf-memory") + 1]).toBe("262144");
    expect(a[a.indexOf("--reduce-device-size") + 1]).toBe("16M");
    expect(a).not.toContain("--pbkdf-force-iterations");
    const cheap = encryptArgs(createContext(opts({ buildPbkdfMemoryKiB: 65536 })), "/k", "/r");
    expect(cheap[cheap.indexOf("--pbkdf-memory") + 1]).toBe("65536");
    expect(cheap).toContain("--pbkdf-force-iterations");
  });

  it("sizes ext4 tightly but with room for inodes and journal", () => {
    const s = ext4SizeFor(428 * 1024 ** 2, 20_000);
    expect(s % (1024 * 1024)).toBe(0);
    expect(s).toBeGreaterThan(428 * 1024 ** 2);
    expect(s).toBeLessThan(600 * 1024 ** 2);
  });

  it("the final ext4 is the used blocks plus first boot's headroom, in whole MiB", () => {
    expect(tightExt4Bytes(100_000)).toBe(Math.ceil((100_000 * 4096 + 32 * 1024 ** 2) / 1024 ** 2) * 1024 ** 2);
    expect(tightExt4Bytes(256) % (1024 * 1024)).toBe(0);
  });

  it("names and compresses outputs", () => {
    expect(compressedName("n", "zstd")).toBe("n.img.zst");
    expect(compressedName("n", "xz")).toBe("n.img.xz");
    expect(compressedName("n", "none")).toBe("n.img");
    expect(compressCommand("zstd", "a", "b")[0]).toBe("zstd");
  });
});

describe("GGUF header fallback", () => {
  it("accepts a GGUF v3 header and rejects other files", () => {
    const good = Buffer.alloc(64);
    good.write("GGUF", 0, "latin1");
    good.writeUInt32LE(3, 4);
    good.writeBigUInt64LE(2n, 8);
    good.writeBigUInt64LE(5n, 16);
    const p = join(tmp, "h.gguf");
    writeFileSync(p, good);
    expect(headerCheck(p)).toEqual({ version: 3, tensors: 2 });
    good.write("GGML", 0, "latin1");
    writeFileSync(p, good);
    expect(() => headerCheck(p)).toThrow(/magic/);
  });
});

describe("the default mirror is the host's own apt mirror", () => {
  it("reads deb822 and one-line sources, else falls back to deb.debian.org", async () => {
    const { hostMirror } = await import("../../appliance/cli/commands/image.js");
    const files: Record<string, string> = { "/etc/apt/sources.list.d/debian.sources": "Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie\n" };
    expect(hostMirror((p) => files[p])).toBe("http://mirror.example/debian");
    expect(hostMirror((p) => (p === "/etc/apt/sources.list" ? "deb [arch=amd64] http://ftp.example/debian bookworm main\n" : undefined))).toBe("http://ftp.example/debian");
    expect(hostMirror(() => undefined)).toBe("http://deb.debian.org/debian");
  });
});
