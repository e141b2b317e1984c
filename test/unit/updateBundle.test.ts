import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateSecretKey, publicKeyOf } from "../../core/ed25519.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { writeBundle } from "../../image/lib/bundle.js";
import { compareVersions, headerLength, parseEnvelope, PREAMBLE_BYTES } from "../../services/update/bundleFormat.js";
import { verifyBundleFile } from "../../services/update/verifyBundleFile.js";
import { writeBundleToSlot } from "../../services/update/slotWriter.js";
import { handBundle } from "../helpers/handBundle.js";

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

/** The bundle at `src` with its header JSON edited (the parts' bytes kept), written as `name` in the test dir. */
function rewrapped(src: string, name: string, edit: (env: { manifest: { parts: Array<Record<string, unknown>> } & Record<string, unknown> } & Record<string, unknown>) => unknown): string {
  const buf = readFileSync(src);
  const n = headerLength(buf);
  const h = Buffer.from(JSON.stringify(edit(JSON.parse(buf.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + n).toString()))));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(h.length);
  writeFileSync(join(dir, name), Buffer.concat([buf.subarray(0, 8), len, h, buf.subarray(PREAMBLE_BYTES + n)]));
  return join(dir, name);
}

/** Where the root part's stored bytes start in a bundle, and how many there are. */
function rootStored(path: string): { start: number; bytes: number } {
  const buf = readFileSync(path);
  const n = headerLength(buf);
  const root = parseEnvelope(buf.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + n)).manifest.parts[0];
  return { start: PREAMBLE_BYTES + n + (root?.offset ?? 0), bytes: root?.storedSize ?? root?.size ?? 0 };
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "sovereign-bundle-"));
  key = generateSecretKey();
  // Like a filesystem image: some bytes that do not compress, and a long stretch that does.
  rootfs = Buffer.concat([randomBytes(1024 * 1024), Buffer.alloc(2 * 1024 * 1024 + 17, "sovereign root ")]);
  bundle = await makeBundle(join(dir, "v2.sovupdate"));
  slot = join(dir, "slot-b.img");
  // The inactive slot holds an older system: a refused bundle must leave every byte of it.
  writeFileSync(slot, randomBytes(4 * 1024 * 1024));
  bootFiles = join(dir, "esp", "sovereign", "b");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("update bundle format", () => {
  it("writes a header whose manifest lists each part back to back: the root gzipped, the boot files (which gzip would grow) raw", () => {
    const buf = readFileSync(bundle);
    const n = headerLength(buf.subarray(0, PREAMBLE_BYTES));
    const env = parseEnvelope(buf.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + n));
    const [root, kernel, initrd] = env.manifest.parts;
    const stored = root?.storedSize ?? 0;
    expect(root).toMatchObject({ name: "rootfs.ext4", target: "root", size: rootfs.length, offset: 0, encoding: "gzip" });
    expect(root?.sha256).toBe(createHash("sha256").update(rootfs).digest("hex"));
    // About the random first MiB: the rest is one repeated phrase.
    expect(stored).toBeGreaterThan(1024 * 1024);
    expect(stored).toBeLessThan(1.1 * 1024 * 1024);
    const storedBytes = buf.subarray(PREAMBLE_BYTES + n, PREAMBLE_BYTES + n + stored);
    expect(root?.storedSha256).toBe(createHash("sha256").update(storedBytes).digest("hex"));
    expect(gunzipSync(storedBytes).equals(rootfs)).toBe(true);
    expect([kernel, initrd].map((p) => [p?.name, p?.size, p?.offset, p?.encoding, p?.storedSize])).toEqual([
      ["vmlinuz", 12, stored, undefined, undefined],
      ["initrd.img", 12, stored + 12, undefined, undefined],
    ]);
    expect(env.publicKey).toBe(hex(publicKeyOf(key)));
    expect(statSync(bundle).size).toBe(PREAMBLE_BYTES + n + stored + 24);
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

  it("a gzip part altered after signing: its stored sha256 refuses it in the verify pass", async () => {
    const { start, bytes } = rootStored(bundle);
    for (const [name, at] of [["head", start + 3], ["middle", start + Math.floor(bytes / 2)], ["tail", start + bytes - 2]] as const) {
      const buf = readFileSync(bundle);
      buf[at] = (buf[at] ?? 0) ^ 0x01;
      writeFileSync(join(dir, name), buf);
      expect(await refused(join(dir, name)), name).toBe("UPDATE_PART_CORRUPT");
    }
  });

  it("a gzip part's storedSize, storedSha256 and encoding are signed: changed or dropped, the signature fails", async () => {
    const { bytes } = rootStored(bundle);
    const other = "ab".repeat(32);
    expect(await refused(rewrapped(bundle, "stored-sha", (e) => {
      e.manifest.parts[0] = { ...e.manifest.parts[0], storedSha256: other };
      return e;
    }))).toBe("UPDATE_SIGNATURE_INVALID");
    // One more stored byte, the later parts moved along so the layout still adds up: only the signature can tell.
    expect(await refused(rewrapped(bundle, "stored-size", (e) => {
      e.manifest.parts = e.manifest.parts.map((p, i) => (i === 0 ? { ...p, storedSize: bytes + 1 } : { ...p, offset: Number(p.offset) + 1 }));
      return e;
    }))).toBe("UPDATE_SIGNATURE_INVALID");
    // Called raw, the gzip bytes would go onto the slot as they are.
    expect(await refused(rewrapped(bundle, "no-encoding", (e) => {
      const { encoding: _e, storedSize: _s, storedSha256: _h, ...raw } = e.manifest.parts[0] ?? {};
      e.manifest.parts = e.manifest.parts.map((p, i) => (i === 0 ? raw : { ...p, offset: Number(p.offset) - bytes + rootfs.length }));
      return e;
    }))).toBe("UPDATE_SIGNATURE_INVALID");
  });

  it("a part's encoding, storedSize and storedSha256 are shape-checked, all three or none, before the signature", async () => {
    const edit = (name: string, change: (root: Record<string, unknown>) => Record<string, unknown>): string =>
      rewrapped(bundle, name, (e) => {
        e.manifest.parts[0] = change({ ...e.manifest.parts[0] });
        return e;
      });
    const cases: Array<[string, (r: Record<string, unknown>) => Record<string, unknown>]> = [
      ["zstd", (r) => ({ ...r, encoding: "zstd" })],
      ["no-stored-size", ({ storedSize: _s, ...r }) => r],
      ["no-stored-sha", ({ storedSha256: _h, ...r }) => r],
      ["negative-size", (r) => ({ ...r, storedSize: -1 })],
      ["fractional-size", (r) => ({ ...r, storedSize: 1.5 })],
      ["unsafe-size", (r) => ({ ...r, storedSize: 2 ** 53 })],
      ["short-sha", (r) => ({ ...r, storedSha256: "ab" })],
      ["upper-sha", (r) => ({ ...r, storedSha256: "AB".repeat(32) })],
      ["raw-with-stored", ({ encoding: _e, ...r }) => r],
    ];
    for (const [name, change] of cases) expect(await refused(edit(name, change)), name).toBe("UPDATE_BUNDLE_MALFORMED");
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

  it("progress: the verify and the write pass count the bytes the slot gets (a compressed part unpacked), the read-back the slot's", async () => {
    const last = new Map<string, [number, number]>();
    await writeBundleToSlot(bundle, policy(), { root: slot, bootFiles, bootImage: null }, { onProgress: (ph, d, t) => last.set(ph, [d, t]) });
    expect(Object.fromEntries(last)).toEqual({
      verify: [rootfs.length + 24, rootfs.length + 24],
      write: [rootfs.length + 24, rootfs.length + 24],
      readback: [rootfs.length, rootfs.length],
    });
  });

  it("allows an older version only when asked", async () => {
    const r = await writeBundleToSlot(bundle, policy({ runningVersion: "0.3.0", allowDowngrade: true }), { root: slot, bootFiles, bootImage: null });
    expect(r.manifest.version).toBe("0.2.0");
  });

  it("refuses to finish when the bundle changes between the verify and the write pass", async () => {
    const buf = readFileSync(bundle);
    // The byte changed lies in the gzip root: the write pass hashes what it reads as stored, not only what it unpacks.
    const { start, bytes } = rootStored(bundle);
    expect(buf.length - 5000).toBeGreaterThan(start);
    expect(buf.length - 5000).toBeLessThan(start + bytes);
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

describe("raw parts: a bundle as built before compression, and parts gzip would not shrink", () => {
  it("compress: \"none\" writes the old format byte for byte (no encoding, the raw parts back to back), and it verifies and applies", async () => {
    const raw = join(dir, "raw.sovupdate");
    await writeBundle(raw, { version: "0.2.0", board: "x86_64-uefi" }, [
      { name: "rootfs.ext4", target: "root", path: join(dir, "rootfs.ext4") },
      { name: "vmlinuz", target: "boot", path: join(dir, "vmlinuz") },
      { name: "initrd.img", target: "boot", path: join(dir, "initrd.img") },
    ], key, { compress: "none" });
    const buf = readFileSync(raw);
    const n = headerLength(buf);
    const header = buf.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + n).toString();
    expect(header).not.toMatch(/encoding|stored/);
    expect(buf.subarray(PREAMBLE_BYTES + n).equals(Buffer.concat([rootfs, Buffer.from("kernel bytes"), Buffer.from("initrd bytes")]))).toBe(true);
    const r = await writeBundleToSlot(raw, policy(), { root: slot, bootFiles, bootImage: null });
    expect(readFileSync(slot).subarray(0, rootfs.length).equals(rootfs)).toBe(true);
    expect(readFileSync(join(bootFiles, "initrd.img"), "utf8")).toBe("initrd bytes");
    expect(r.rootReadback).toBe(createHash("sha256").update(rootfs).digest("hex"));
  });

  it("a root gzip does not shrink (random bytes) is stored raw, and no temp file is left beside the bundle", async () => {
    const noise = randomBytes(2 * 1024 * 1024 + 3);
    writeFileSync(join(dir, "noise.ext4"), noise);
    const out = join(dir, "out", "noise.sovupdate");
    mkdirSync(join(dir, "out"));
    const { manifest } = await writeBundle(out, { version: "0.2.0", board: "x86_64-uefi" }, [{ name: "rootfs.ext4", target: "root", path: join(dir, "noise.ext4") }], key);
    expect(manifest.parts).toEqual([{ name: "rootfs.ext4", target: "root", size: noise.length, sha256: createHash("sha256").update(noise).digest("hex"), offset: 0 }]);
    expect(readdirSync(join(dir, "out"))).toEqual(["noise.sovupdate"]);
    await writeBundleToSlot(out, policy(), { root: slot, bootFiles, bootImage: null });
    expect(readFileSync(slot).subarray(0, noise.length).equals(noise)).toBe(true);
  });

  it("a failed pack leaves neither the bundle, nor its partial, nor a temp file", async () => {
    mkdirSync(join(dir, "out"));
    const out = join(dir, "out", "x.sovupdate");
    const pack = writeBundle(out, { version: "0.2.0", board: "x86_64-uefi" }, [
      { name: "rootfs.ext4", target: "root", path: join(dir, "rootfs.ext4") },
      { name: "vmlinuz", target: "boot", path: join(dir, "missing") },
    ], key);
    await expect(pack).rejects.toMatchObject({ code: "ENOENT" });
    expect(readdirSync(join(dir, "out"))).toEqual([]);
  });
});

describe("a signed gzip part that does not unpack to its size and sha256 (a builder's bug, or a decompression bomb)", () => {
  const MiB = 1024 * 1024;
  const shaOf = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
  /** A hand-made bundle, signed with the trusted key: a gzip root claiming `claim`, and a raw kernel. */
  function signed(name: string, stored: Buffer, claim: { size?: number; sha256?: string }): string {
    const out = join(dir, name);
    handBundle(out, { version: "0.2.0", board: "x86_64-uefi" }, [
      { name: "rootfs.ext4", target: "root", stored, encoding: "gzip", ...claim },
      { name: "vmlinuz", target: "boot", stored: Buffer.from("kernel bytes") },
    ], key);
    return out;
  }
  /** Writing it must be refused by the verify pass: the slot byte-identical and no boot file. Returns the error. */
  const refusedWhole = async (path: string): Promise<unknown> => {
    const before = sha(slot);
    const err = await writeBundleToSlot(path, policy(), { root: slot, bootFiles, bootImage: null }).catch((e: unknown) => e);
    expect(sha(slot)).toBe(before);
    expect(existsSync(bootFiles) ? readdirSync(bootFiles) : []).toEqual([]);
    await expect(verifyBundleFile(path, policy())).rejects.toMatchObject({ code: (err as { code?: string }).code });
    return err;
  };

  it("unpacking to more than its size is refused by the verify pass: UPDATE_PART_UNPACK_FAILED, not a byte written", async () => {
    // The real 3 MiB root, signed as its first MiB: every byte it claims is right, it just does not end.
    const bomb = signed("bomb", gzipSync(rootfs), { size: MiB, sha256: shaOf(rootfs.subarray(0, MiB)) });
    const err = await refusedWhole(bomb);
    expect(err).toMatchObject({ code: "UPDATE_PART_UNPACK_FAILED", details: { part: "rootfs.ext4", size: MiB } });
    expect((err as Error).message).toContain(`unpacks to more than its signed ${MiB} bytes. Nothing was written.`);
  });

  it("a bomb of zeros (a thousand to one) is refused as well", async () => {
    const zeros = gzipSync(Buffer.alloc(64 * MiB), { level: 9 });
    expect(zeros.length).toBeLessThan(MiB);
    expect(await refusedWhole(signed("zeros", zeros, { size: 2 * MiB, sha256: shaOf(Buffer.alloc(2 * MiB)) }))).toMatchObject({ code: "UPDATE_PART_UNPACK_FAILED" });
  });

  it("ending short of its size, other bytes than its sha256, a cut stream, or no gzip at all: UPDATE_PART_UNPACK_FAILED", async () => {
    const gz = gzipSync(rootfs);
    const cases: Array<[string, Buffer, { size?: number; sha256?: string }, string]> = [
      ["short", gz, { size: rootfs.length + 4096, sha256: shaOf(rootfs) }, `unpacks to ${rootfs.length} bytes, short of its signed ${rootfs.length + 4096}`],
      ["other-bytes", gz, { sha256: "00".repeat(32) }, "unpacks to other bytes than its signed sha256"],
      ["cut", gz.subarray(0, gz.length - 100), { size: rootfs.length, sha256: shaOf(rootfs) }, "is not a whole gzip stream"],
      ["not-gzip", randomBytes(64 * 1024), { size: MiB, sha256: "11".repeat(32) }, "is not a whole gzip stream"],
    ];
    for (const [name, stored, claim, why] of cases) {
      const err = await refusedWhole(signed(name, stored, claim));
      expect(err, name).toMatchObject({ code: "UPDATE_PART_UNPACK_FAILED" });
      expect((err as Error).message, name).toContain(why);
    }
  });

  it("a boot part that unpacks to more than its size is refused before the root is written", async () => {
    const out = join(dir, "boot-bomb");
    handBundle(out, { version: "0.2.0", board: "x86_64-uefi" }, [
      { name: "rootfs.ext4", target: "root", stored: rootfs },
      { name: "vmlinuz", target: "boot", stored: gzipSync(Buffer.alloc(MiB, "k")), encoding: "gzip", size: 1000, sha256: shaOf(Buffer.alloc(1000, "k")) },
    ], key);
    expect(await refusedWhole(out)).toMatchObject({ code: "UPDATE_PART_UNPACK_FAILED", details: { part: "vmlinuz" } });
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
