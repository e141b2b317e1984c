import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, expectTypeOf, it } from "vitest";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { findBoard } from "../../image/boards/registry.js";
import type { BuildOptions } from "../../image/BuildContext.js";
import { createContext, pipeline, resolveBoard, StepList } from "../../image/pipeline.js";
import type { StepOutputs } from "../../image/StepOutputs.js";
import { encryptArgs, encryptStep } from "../../image/steps/encrypt.js";
import { firstbootConfig } from "../../image/lib/units.js";
import { manifestStep } from "../../image/steps/manifest.js";
import { modelsStep } from "../../image/steps/models.js";
import { missingTools, preflightStep } from "../../image/steps/preflight.js";
import { ext4SizeFor, tightExt4Bytes } from "../../image/steps/rootfsImage.js";
import { compressCommand, compressedName } from "../../image/steps/compress.js";
import { keysStep } from "../../image/steps/keys.js";
import { Skipped } from "../../image/steps/Step.js";

const tmp = mkdtempSync(join(tmpdir(), "sov-image-unit-"));
const opts = (o: Partial<BuildOptions> = {}): BuildOptions => ({
  board: "x86_64", out: join(tmp, "out"), models: [], mirror: "http://deb.debian.org/debian", cache: join(tmp, "cache"), compress: "zstd", repoRoot: tmp, dryRun: true, ...o,
});
const code = async (p: Promise<unknown>): Promise<string> => p.then(() => "resolved", (e: unknown) => (e instanceof SovereignError ? e.code : `not coded: ${String(e)}`));
const preflight = (o: Partial<BuildOptions>): Promise<unknown> => preflightStep.run(createContext(opts(o)), {});

describe("the pipeline", () => {
  it("runs the named steps in the documented order", () => {
    expect(pipeline.map((s) => s.name)).toEqual([
      "preflight", "keys", "bootstrap", "runtime", "packages", "cuda-runner", "llama-addon", "configure", "models", "kernel-modules", "initramfs",
      "boot-partition", "data-image", "rootfs-image", "slot-verity", "encrypt", "assemble", "compress", "manifest",
    ]);
    expect(new Set(pipeline.map((s) => s.name)).size).toBe(pipeline.length);
  });

  it("every step needs only steps that ran before it", () => {
    for (const [i, step] of pipeline.entries()) {
      const before = pipeline.slice(0, i).map((s) => s.name);
      for (const n of step.needs) expect(before, `${step.name} needs ${n}`).toContain(n);
    }
    // The data flow, as the steps declare it.
    expect(encryptStep.needs).toEqual(["keys", "configure", "rootfs-image", "data-image"]);
    expect(manifestStep.needs).toEqual(expect.arrayContaining(["runtime", "configure", "models", "encrypt", "assemble", "compress"]));
  });

  it("refuses a step list in which a step reads what no earlier step produced, at compile time and at run time", () => {
    // @ts-expect-error encrypt needs keys, configure, rootfs-image and data-image, which are not in the list yet
    expect(() => new StepList<never>().then(preflightStep).then(encryptStep)).toThrow(/encrypt needs keys, configure, rootfs-image/);
    // @ts-expect-error a step name twice
    expect(() => new StepList<never>().then(preflightStep).then(preflightStep)).toThrow(/already in the list/);
    expect(new StepList<never>().then(preflightStep).then(keysStep).steps.map((s) => s.name)).toEqual(["preflight", "keys"]);
  });

  it("a step gets exactly the outputs it needs, typed", () => {
    expectTypeOf<Parameters<typeof encryptStep.run>[1]>().toEqualTypeOf<Pick<StepOutputs, "keys" | "configure" | "rootfs-image" | "data-image">>();
    expectTypeOf<Parameters<typeof encryptStep.run>[1]["rootfs-image"]>().toEqualTypeOf<{ image: string; fsBytes: number }>();
    expectTypeOf<Parameters<typeof preflightStep.run>[1]>().toEqualTypeOf<Pick<StepOutputs, never>>();
  });

  it("a step that does not apply says why and still yields its output", async () => {
    const ctx = createContext(opts());
    const r = await modelsStep.run(ctx, { configure: { ids: { luksUuid: "", rootFsUuid: "", bootVolumeId: "" }, hostname: "h", exposure: null } });
    expect(r).toBeInstanceOf(Skipped);
    expect(r).toEqual(new Skipped("no --model given", { models: [] }));
  });

  it("refuses an unknown board before anything else", () => {
    expect(() => resolveBoard("pdp11")).toThrow(/unknown board "pdp11"/);
    try {
      resolveBoard("pdp11");
    } catch (e) {
      expect((e as SovereignError).code).toBe("IMAGE_UNKNOWN_BOARD");
    }
  });

  it("defaults the unlock method to the board's first (passphrase) and the distro to debian", () => {
    const ctx = createContext(opts());
    expect(ctx.unlock).toBe("passphrase");
    expect(ctx.distro.id).toBe("debian");
  });

  it("the device-cipher test knob takes only a cipher the board schema knows", () => {
    expect(createContext(opts({ deviceCipher: "xchacha12,aes-adiantum-plain64" })).board.luks).toMatchObject({ cipher: "xchacha12,aes-adiantum-plain64", keySize: 256 });
    expect(() => createContext(opts({ deviceCipher: "rot13" }))).toThrow(/device cipher "rot13"/);
  });
});

describe("pre-flight refusals (no work done)", () => {
  it("an unlock method the board lacks", async () => {
    expect(await code(preflight({ board: "rpi4", unlock: "tpm2" }))).toBe("IMAGE_UNLOCK_UNSUPPORTED");
  });

  it("ssh unlock without a key", async () => {
    expect(await code(preflight({ unlock: "ssh" }))).toBe("IMAGE_OPTION_INVALID");
  });

  it("the A/B layout where it is not built yet (ssh on a Pi), naming what works", async () => {
    const key = join(tmp, "authorized_keys");
    writeFileSync(key, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF0 owner\n");
    await expect(preflight({ board: "rpi4", unlock: "ssh", sshKeyFile: key, layout: "ab" })).rejects.toThrow(/--layout ab with --unlock ssh .* not rpi4: use --unlock passphrase or usb-key/);
    // Built: both Pis with passphrase or usb-key, UEFI boards with any unlock (tpm2's dracut initrd mounts the data partition too).
    for (const [board, unlock] of [["rpi4", "passphrase"], ["rpi5", "usb-key"], ["x86_64", "usb-key"], ["x86_64", "tpm2"]] as const) expect(await code(preflight({ board, unlock, layout: "ab" }))).toBe("resolved");
    expect(await code(preflight({ board: "x86_64", unlock: "ssh", sshKeyFile: key, layout: "ab" }))).toBe("resolved");
  });

  it("a --model that is not a GGUF", async () => {
    const bad = join(tmp, "not-a-model.gguf");
    writeFileSync(bad, "this is text, not a model, and it is long enough");
    expect(await code(preflight({ models: [bad] }))).toBe("IMAGE_MODEL_INVALID");
    expect(await code(preflight({ models: [join(tmp, "missing.gguf")] }))).toMatch(/IMAGE_(MODEL_INVALID|INPUT_MISSING)/);
  });

  it("a missing host tool names its Debian package; the distro's bootstrapper comes first", () => {
    const ctx = createContext(opts());
    const missing = missingTools(ctx, (t) => t !== "mkfs.vfat" && t !== "sfdisk");
    expect(missing).toEqual([{ tool: "mkfs.vfat", pkg: "dosfstools" }, { tool: "sfdisk", pkg: "fdisk" }]);
    expect(missingTools(ctx, () => false)[0]).toEqual({ tool: "mmdebstrap", pkg: "mmdebstrap" });
    const arm = missingTools(createContext(opts({ board: "rpi4" })), (t) => !t.startsWith("qemu"));
    if (process.arch === "x64") expect(arm.map((m) => m.pkg).join()).toContain("qemu-user-static");
  });

  it("--l4t on a board without a vendor layer", async () => {
    expect(await code(preflight({ l4t: "/nonexistent" }))).toBe("IMAGE_OPTION_INVALID");
    expect(await code(preflight({ board: "jetson-orin", l4t: "/nonexistent" }))).toBe("IMAGE_VENDOR_LAYER_MISSING");
  });
});

describe("encryption and sizing", () => {
  it("encrypts offline with the board's cipher, the fixed UUID and a capped argon2id", () => {
    const uuid = "0b5c7f3e-2a43-4c55-9a39-1c1e4b1c2d3e";
    const a = encryptArgs(createContext(opts({ board: "rpi4" })), uuid, "/k", "/root.img");
    expect(a.slice(0, 3)).toEqual(["reencrypt", "--encrypt", "--type"]);
    // Adiantum cannot be applied offline without device-mapper: the image ships AES-XTS, first boot switches.
    expect(a[a.indexOf("--cipher") + 1]).toBe("aes-xts-plain64");
    expect(a[a.indexOf("--key-size") + 1]).toBe("512");
    expect(firstbootConfig(findBoard("rpi4")!, "passphrase", { keepRecoveryPassphrase: true })).toContain("CIPHER=xchacha12,aes-adiantum-plain64\nKEY_SIZE=256\n");
    const x = encryptArgs(createContext(opts()), uuid, "/k", "/r");
    expect(x[x.indexOf("--cipher") + 1]).toBe("aes-xts-plain64");
    expect(a[a.indexOf("--uuid") + 1]).toBe(uuid);
    expect(a[a.indexOf("--pbkdf-memory") + 1]).toBe("262144");
    expect(a[a.indexOf("--reduce-device-size") + 1]).toBe("16M");
    expect(a).not.toContain("--pbkdf-force-iterations");
    const cheap = encryptArgs(createContext(opts({ buildPbkdfMemoryKiB: 65536 })), uuid, "/k", "/r");
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

describe("the default mirror is the host's own apt mirror", () => {
  it("reads deb822 and one-line sources, else falls back to deb.debian.org", async () => {
    const { hostMirror } = await import("../../appliance/cli/commands/image.js");
    const files: Record<string, string> = { "/etc/apt/sources.list.d/debian.sources": "Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie\n" };
    expect(hostMirror((p) => files[p])).toBe("http://mirror.example/debian");
    expect(hostMirror((p) => (p === "/etc/apt/sources.list" ? "deb [arch=amd64] http://ftp.example/debian bookworm main\n" : undefined))).toBe("http://ftp.example/debian");
    expect(hostMirror(() => undefined)).toBe("http://deb.debian.org/debian");
  });
});
