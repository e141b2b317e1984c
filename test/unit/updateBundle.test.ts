import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateSecretKey, publicKeyOf } from "../../core/ed25519.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { writeBundle } from "../../image/lib/bundle.js";
import { compareVersions, headerLength, parseEnvelope, PREAMBLE_BYTES } from "../../services/update/bundleFormat.js";
import { verifyBundleFile } from "../../services/update/bundleReader.js";
import { writeBundleToSlot } from "../../services/update/slotWriter.js";

const sha = (p: string): string => createHash("sha256").update(readFileSync(p)).digest("hex");
const hex = (k: Uint8Array): string => Buffer.from(k).toString("hex");

let dir: string;
let key: Uint8Array;
let rootfs: Buffer;
let bundle: string;
let slot: string;
let bootFiles: string;

async function makeBundle(out: string, opts: { version?: string; board?: string; secret?: Uint8Array; verity?: { rootHash: string; hashOffset: number } } = {}): Promise<string> {
  writeFileSync(join(dir, "rootfs.ext4"), rootfs);
  writeFileSync(join(dir, "vmlinuz"), "kernel bytes");
  writeFileSync(join(dir, "initrd.img"), "initrd bytes");
  await writeBundle(out, { version: opts.version ?? "0.2.0", board: opts.board ?? "x86_64-uefi", ...(opts.verity ? { verity: opts.verity } : {}) }, [
    { name: "rootfs.ext4", target: "root", path: join(dir, "rootfs.ext4") },
    { name: "vmlinuz", target: "boot", path: join(dir, "vmlinuz") },
    { name: "initrd.img", target: "boot", path: join(dir, "initrd.img") },
  ], opts.secret ?? key);
  return out;
}

const policy = (over: Partial<{ trustedKeys: string[]; board: string; runningVersion: string; allowDowngrade: boolean }> = {}) => ({
  trustedKeys: [hex(publicKeyOf(key))], board: "x86_64-uefi", runningVersion: "0.1.0", ...over,
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SovereignError) return err.code;
    throw err;
  }
  return "no error";
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "sovereign-bundle-"));
  key = generateSecretKey();
  rootfs = randomBytes(3 * 1024 * 1024 + 17);
  bundle = await makeBundle(join(dir, "v2.sovupdate"));
  slot = join(dir, "slot-b.img");
  // The inactive slot holds an older system: a refused bundle must leave every byte of it.
  writeFileSync(slot, randomBytes(4 * 1024 * 1024));
  bootFiles = join(dir, "esp", "sovereign", "b");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("update bundle format", () => {
  it("writes a header whose manifest lists each part back to back with its size and sha256", () => {
    const buf = readFileSync(bundle);
    const n = headerLength(buf.subarray(0, PREAMBLE_BYTES));
    const env = parseEnvelope(buf.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + n));
    expect(env.manifest.parts.map((p) => [p.name, p.target, p.size, p.offset])).toEqual([
      ["rootfs.ext4", "root", rootfs.length, 0],
      ["vmlinuz", "boot", 12, rootfs.length],
      ["initrd.img", "boot", 12, rootfs.length + 12],
    ]);
    expect(env.manifest.parts[0]?.sha256).toBe(createHash("sha256").update(rootfs).digest("hex"));
    expect(env.publicKey).toBe(hex(publicKeyOf(key)));
    expect(statSync(bundle).size).toBe(PREAMBLE_BYTES + n + rootfs.length + 24);
  });

  it("orders versions numerically field by field", () => {
    expect(compareVersions("0.10.0", "0.9.9")).toBe(1);
    expect(compareVersions("1.2", "1.2.1")).toBe(-1);
    expect(compareVersions("1.2.3", "1.2.3")).toBe(0);
  });

  it("verifies a good bundle without writing anything", async () => {
    const before = sha(slot);
    const v = await verifyBundleFile(bundle, policy());
    expect(v.manifest.version).toBe("0.2.0");
    expect(sha(slot)).toBe(before);
  });
});

describe("refusals leave the inactive slot byte-identical", () => {
  async function refused(path: string, p = policy()): Promise<string> {
    const before = sha(slot);
    const code = await codeOf(writeBundleToSlot(path, p, { root: slot, bootFiles, bootImage: null }));
    expect(sha(slot)).toBe(before);
    return code;
  }

  it("a part altered after signing", async () => {
    const buf = readFileSync(bundle);
    buf[buf.length - 30] = (buf[buf.length - 30] ?? 0) ^ 0xff;
    writeFileSync(join(dir, "altered"), buf);
    expect(await refused(join(dir, "altered"))).toBe("UPDATE_PART_CORRUPT");
  });

  it("a truncated bundle, and one with bytes appended", async () => {
    const buf = readFileSync(bundle);
    writeFileSync(join(dir, "short"), buf.subarray(0, buf.length - 1000));
    expect(await refused(join(dir, "short"))).toBe("UPDATE_BUNDLE_TRUNCATED");
    writeFileSync(join(dir, "long"), Buffer.concat([buf, Buffer.from("x")]));
    expect(await refused(join(dir, "long"))).toBe("UPDATE_BUNDLE_TRUNCATED");
  });

  it("a missing signature, and a manifest changed after signing", async () => {
    const buf = readFileSync(bundle);
    const n = headerLength(buf);
    const env = JSON.parse(buf.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + n).toString()) as { manifest: { version: string }; signature?: string };
    const rewrap = (e: unknown): Buffer => {
      const h = Buffer.from(JSON.stringify(e));
      const len = Buffer.alloc(4);
      len.writeUInt32BE(h.length);
      return Buffer.concat([buf.subarray(0, 8), len, h, buf.subarray(PREAMBLE_BYTES + n)]);
    };
    writeFileSync(join(dir, "unsigned"), rewrap({ ...env, signature: undefined }));
    expect(await refused(join(dir, "unsigned"))).toBe("UPDATE_SIGNATURE_MISSING");
    writeFileSync(join(dir, "bumped"), rewrap({ ...env, manifest: { ...env.manifest, version: "9.0.0" } }));
    expect(await refused(join(dir, "bumped"))).toBe("UPDATE_SIGNATURE_INVALID");
  });

  it("the slot's verity is signed with the manifest: changed, it fails the signature; malformed, the shape check", async () => {
    const verity = { rootHash: "5e".repeat(32), hashOffset: 2 * 1024 * 1024 };
    const v = await makeBundle(join(dir, "verity"), { verity });
    expect((await verifyBundleFile(v, policy())).manifest.verity).toEqual(verity);
    const buf = readFileSync(v);
    const n = headerLength(buf);
    const env = JSON.parse(buf.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + n).toString()) as { manifest: Record<string, unknown> };
    const rewrap = (e: unknown, name: string): string => {
      const h = Buffer.from(JSON.stringify(e));
      const len = Buffer.alloc(4);
      len.writeUInt32BE(h.length);
      writeFileSync(join(dir, name), Buffer.concat([buf.subarray(0, 8), len, h, buf.subarray(PREAMBLE_BYTES + n)]));
      return join(dir, name);
    };
    // Another root hash (a slot the signer never made), or verity dropped (a slot mounted unchecked): both unsigned.
    expect(await refused(rewrap({ ...env, manifest: { ...env.manifest, verity: { ...verity, rootHash: "00".repeat(32) } } }, "other-hash"))).toBe("UPDATE_SIGNATURE_INVALID");
    const { verity: _dropped, ...without } = env.manifest;
    expect(await refused(rewrap({ ...env, manifest: without }, "dropped"))).toBe("UPDATE_SIGNATURE_INVALID");
    // A tree offset outside the root part, or not on a 4 KiB block, is malformed before any signature is checked.
    expect(await refused(rewrap({ ...env, manifest: { ...env.manifest, verity: { ...verity, hashOffset: rootfs.length } } }, "outside"))).toBe("UPDATE_BUNDLE_MALFORMED");
    expect(await refused(rewrap({ ...env, manifest: { ...env.manifest, verity: { ...verity, hashOffset: 4097 } } }, "unaligned"))).toBe("UPDATE_BUNDLE_MALFORMED");
    expect(await refused(rewrap({ ...env, manifest: { ...env.manifest, verity: { rootHash: "xyz", hashOffset: 4096 } } }, "badhash"))).toBe("UPDATE_BUNDLE_MALFORMED");
  });

  it("an untrusted key, the wrong board, an older version, and not a bundle at all", async () => {
    const other = await makeBundle(join(dir, "other-key"), { secret: generateSecretKey() });
    expect(await refused(other)).toBe("UPDATE_KEY_UNTRUSTED");
    const pi = await makeBundle(join(dir, "pi"), { board: "rpi5" });
    expect(await refused(pi)).toBe("UPDATE_WRONG_BOARD");
    expect(await refused(bundle, policy({ runningVersion: "0.3.0" }))).toBe("UPDATE_DOWNGRADE");
    writeFileSync(join(dir, "junk"), randomBytes(5000));
    expect(await refused(join(dir, "junk"))).toBe("UPDATE_BUNDLE_MALFORMED");
  });
});

describe("writing the inactive slot", () => {
  it("streams the root into the slot and the boot files into its boot directory, and reads the root back", async () => {
    const phases = new Set<string>();
    const r = await writeBundleToSlot(bundle, policy(), { root: slot, bootFiles, bootImage: null }, { onProgress: (ph) => phases.add(ph) });
    expect(readFileSync(slot).subarray(0, rootfs.length).equals(rootfs)).toBe(true);
    expect(readFileSync(join(bootFiles, "vmlinuz"), "utf8")).toBe("kernel bytes");
    expect(readFileSync(join(bootFiles, "initrd.img"), "utf8")).toBe("initrd bytes");
    expect(r.rootReadback).toBe(createHash("sha256").update(rootfs).digest("hex"));
    expect(r.bytesWritten).toBe(rootfs.length + 24);
    expect([...phases]).toEqual(["verify", "write", "readback"]);
  });

  it("allows an older version only when asked", async () => {
    const r = await writeBundleToSlot(bundle, policy({ runningVersion: "0.3.0", allowDowngrade: true }), { root: slot, bootFiles, bootImage: null });
    expect(r.manifest.version).toBe("0.2.0");
  });

  it("refuses to finish when the bundle changes between the verify and the write pass", async () => {
    const buf = readFileSync(bundle);
    const code = await codeOf(writeBundleToSlot(bundle, policy(), { root: slot, bootFiles, bootImage: null }, {
      // The file is altered on disk right after the verify pass, as a failing medium or a racing writer would.
      onVerified: () => {
        const b = Buffer.from(buf);
        b[b.length - 5000] = (b[b.length - 5000] ?? 0) ^ 0x01;
        writeFileSync(bundle, b);
      },
    }));
    expect(code).toBe("UPDATE_WRITE_MISMATCH");
  });
});

describe("a Raspberry Pi slot with its own boot partition", () => {
  let vfat: Buffer;
  let pi: string;
  let bootPart: string;

  beforeEach(async () => {
    vfat = randomBytes(256 * 1024 + 5);
    writeFileSync(join(dir, "rootfs.ext4"), rootfs);
    writeFileSync(join(dir, "boot.vfat"), vfat);
    pi = join(dir, "pi.sovupdate");
    await writeBundle(pi, { version: "0.2.0", board: "rpi5" }, [
      { name: "rootfs.ext4", target: "root", path: join(dir, "rootfs.ext4") },
      { name: "boot.vfat", target: "boot", path: join(dir, "boot.vfat") },
    ], key);
    bootPart = join(dir, "boot-b.img");
    writeFileSync(bootPart, randomBytes(512 * 1024));
  });

  it("streams boot.vfat raw onto the boot partition, like the root onto the slot, and reads both back", async () => {
    const phases: Array<[string, number, number]> = [];
    const r = await writeBundleToSlot(pi, policy({ board: "rpi5" }), { root: slot, bootFiles, bootImage: bootPart }, { onProgress: (ph, d, t) => phases.push([ph, d, t]) });
    expect(readFileSync(slot).subarray(0, rootfs.length).equals(rootfs)).toBe(true);
    expect(readFileSync(bootPart).subarray(0, vfat.length).equals(vfat)).toBe(true);
    expect(statSync(bootPart).size).toBe(512 * 1024);
    expect(existsSync(bootFiles)).toBe(false);
    expect(r.bytesWritten).toBe(rootfs.length + vfat.length);
    expect(phases.at(-1)).toEqual(["readback", rootfs.length + vfat.length, rootfs.length + vfat.length]);
  });

  it("without a boot partition, boot.vfat stays a file in the slot's boot directory", async () => {
    await writeBundleToSlot(pi, policy({ board: "rpi5" }), { root: slot, bootFiles, bootImage: null });
    expect(readFileSync(join(bootFiles, "boot.vfat")).equals(vfat)).toBe(true);
  });

  it("refuses a boot partition too small for boot.vfat before a byte goes to either device", async () => {
    writeFileSync(bootPart, randomBytes(128 * 1024));
    const before = [sha(slot), sha(bootPart)];
    let verified = false;
    const err = await writeBundleToSlot(pi, policy({ board: "rpi5" }), { root: slot, bootFiles, bootImage: bootPart }, { onVerified: () => (verified = true) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "UPDATE_SLOT_TOO_SMALL" });
    expect((err as Error).message).toContain(`boot partition ${bootPart}`);
    expect([sha(slot), sha(bootPart)]).toEqual(before);
    expect(verified).toBe(false);
  });
});
