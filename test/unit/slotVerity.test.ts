import { mkdtempSync, mkdirSync, openSync, closeSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { formatSlotVerity, parseVerityFormat, verifySlotVerity } from "../../image/lib/slotVerity.js";
import { withVerityBootFile } from "../../image/steps/slotVerity.js";
import { requireTools } from "../helpers/requireTool.js";

// What `veritysetup format` (cryptsetup 2.6.1, Debian bookworm) printed for an 8 MiB ext4 file.
const RECORDED = [
  "VERITY header information for fs.img",
  "UUID:            \t22cfc53c-e5c7-4645-88cb-beccdbbe1fc5",
  "Hash type:       \t1",
  "Data blocks:     \t2048",
  "Data block size: \t4096",
  "Hash blocks:     \t17",
  "Hash block size: \t4096",
  "Hash algorithm:  \tsha256",
  "Salt:            \t06f06d62770c936b589ee5627be217209502c55b1cd9fe19d101b939937fed0a",
  "Root hash:      \t85e1d173edc53fda3da1c1259ae48cb08f77fa8002558fe954c8dd29f7fb6661",
  "",
].join("\n");

describe("veritysetup format's report", () => {
  it("gives the root hash and the tree's shape", () => {
    expect(parseVerityFormat(RECORDED)).toEqual({ rootHash: "85e1d173edc53fda3da1c1259ae48cb08f77fa8002558fe954c8dd29f7fb6661", dataBlocks: 2048, hashBlocks: 17, hashAlgorithm: "sha256" });
  });

  it("refuses a report without a usable root hash, naming what it got", () => {
    expect(() => parseVerityFormat(RECORDED.replace(/Root hash:.*\n/, ""))).toThrow(SovereignError);
    expect(() => parseVerityFormat(RECORDED.replace("85e1d173", "zz"))).toThrow(/no usable root hash/);
  });
});

describe("a slot's boot files name its root through verity", () => {
  const verity = { rootHash: "ab".repeat(32), hashOffset: 40960 };
  it("in a loader entry, only the options line changes", () => {
    const entry = "title Sovereign Node 0.9.1 (slot A)\nversion 1\nlinux /sovereign/a/vmlinuz\noptions root=PARTLABEL=sovereign-root-a sovereign.slot=a rw rootfstype=ext4 quiet panic=10\n";
    const out = withVerityBootFile("loader/entries/sovereign-a.conf", entry, "a", verity);
    expect(out).toBe(entry.replace("root=PARTLABEL=sovereign-root-a sovereign.slot=a rw", `root=/dev/mapper/sovslot sovereign.slot=a sovereign.roothash=${verity.rootHash} sovereign.hashoffset=40960 ro fsck.mode=skip`));
  });
  it("in a Pi cmdline, one line with the slot's own name", () => {
    expect(withVerityBootFile("cmdline-b.txt", "console=tty0 root=PARTLABEL=sovereign-root-b sovereign.slot=b rw rootwait\n", "b", verity)).toBe(
      `root=/dev/mapper/sovslot sovereign.slot=b sovereign.roothash=${verity.rootHash} sovereign.hashoffset=40960 ro fsck.mode=skip console=tty0 rootwait\n`,
    );
  });
});

describe.runIf(requireTools("veritysetup", "mkfs.ext4"))("a slot image's hash tree (veritysetup on a file, nothing mapped)", () => {
  const dir = mkdtempSync(join(tmpdir(), "sov-verity-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is appended after the filesystem, verifies, and one changed byte anywhere in the filesystem fails it", async () => {
    const tree = join(dir, "tree");
    mkdirSync(join(tree, "etc"), { recursive: true });
    writeFileSync(join(tree, "etc/os-release"), "PRETTY_NAME=test\n");
    const img = join(dir, "root.img");
    const fsBytes = 16 * 1024 * 1024;
    writeFileSync(img, "");
    execFileSync("truncate", ["-s", String(fsBytes), img]);
    execFileSync("mkfs.ext4", ["-q", "-F", "-b", "4096", "-d", tree, img]);
    const { verity, bytes, report } = await formatSlotVerity(img, fsBytes);
    expect(verity.hashOffset).toBe(fsBytes);
    expect(report.dataBlocks).toBe(fsBytes / 4096);
    // The superblock and the tree's blocks follow the filesystem in the same file.
    expect(bytes).toBe(statSync(img).size);
    expect(bytes).toBe(fsBytes + (1 + report.hashBlocks) * 4096);
    expect(await verifySlotVerity(img, verity)).toBe(true);
    expect(await verifySlotVerity(img, { ...verity, rootHash: "00".repeat(32) })).toBe(false);
    const fd = openSync(img, "r+");
    writeSync(fd, Buffer.from("X"), 0, 1, fsBytes - 4096 * 3 + 5);
    closeSync(fd);
    expect(await verifySlotVerity(img, verity)).toBe(false);
  });

  it("refuses a filesystem that is not whole 4 KiB blocks", async () => {
    const img = join(dir, "odd.img");
    writeFileSync(img, Buffer.alloc(10_000));
    await expect(formatSlotVerity(img, 10_000)).rejects.toThrow(/whole number of 4096-byte blocks/);
  });
});
