import { execFileSync } from "node:child_process";
import { gunzipSync } from "node:zlib";
import type { BoardProfile, UnlockMethod } from "../boards/BoardProfile.js";

/**
 * Reading a built initrd as the kernel will: one or more cpio (newc)
 * archives, the first often uncompressed (dracut's early microcode), the
 * rest compressed (zstd here; gzip and xz read too). Pure except for
 * zstd/xz, which run as the host's tools. Used by the initramfs step (the
 * build fails on a missing driver) and by the image e2e suites (they read
 * the initrd back from the image's boot partition).
 */

const ZSTD = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const XZ = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const GZIP = Buffer.from([0x1f, 0x8b]);

export interface InitrdListing {
  /** Every path in the initrd, without a leading `./` or `/`. */
  files: string[];
  /** The lines of the kernel's modules.builtin the initrd carries (empty when it carries none). */
  builtin: string[];
}

const pad4 = (n: number): number => (n + 3) & ~3;

/** Parses newc cpio archives back to back from `pos`; returns where the data ended. */
function parseCpio(buf: Buffer, pos: number, into: InitrdListing): number {
  while (pos + 110 <= buf.length) {
    const magic = buf.toString("latin1", pos, pos + 6);
    if (magic !== "070701" && magic !== "070702") break;
    const field = (i: number): number => parseInt(buf.toString("latin1", pos + 6 + i * 8, pos + 14 + i * 8), 16);
    const fileSize = field(6);
    const nameSize = field(11);
    const name = buf.toString("utf8", pos + 110, pos + 110 + nameSize - 1);
    const dataStart = pad4(pos + 110 + nameSize);
    pos = pad4(dataStart + fileSize);
    if (name === "TRAILER!!!") {
      // Archives may follow each other (each padded); keep reading while one does.
      while (pos < buf.length && buf[pos] === 0) pos++;
      continue;
    }
    const clean = name.replace(/^\.?\//, "");
    into.files.push(clean);
    if (/(^|\/)modules\.builtin$/.test(clean)) into.builtin.push(...buf.toString("utf8", dataStart, dataStart + fileSize).split("\n").filter(Boolean));
  }
  return pos;
}

function decompress(rest: Buffer): Buffer {
  if (rest.subarray(0, 4).equals(ZSTD)) return execFileSync("zstd", ["-dc", "-q"], { input: rest, maxBuffer: 1024 * 1024 * 1024 });
  if (rest.subarray(0, 6).equals(XZ)) return execFileSync("xz", ["-dc"], { input: rest, maxBuffer: 1024 * 1024 * 1024 });
  if (rest.subarray(0, 2).equals(GZIP)) return gunzipSync(rest);
  throw new Error(`initrd: unknown data at a segment start (${rest.subarray(0, 6).toString("hex")})`);
}

/** Lists an initrd image (the bytes of initrd.img). */
export function listInitrd(initrd: Buffer): InitrdListing {
  const out: InitrdListing = { files: [], builtin: [] };
  let pos = 0;
  while (pos < initrd.length) {
    while (pos < initrd.length && initrd[pos] === 0) pos++;
    if (pos >= initrd.length) break;
    if (initrd.toString("latin1", pos, pos + 4) === "0707") {
      const end = parseCpio(initrd, pos, out);
      if (end === pos) throw new Error(`initrd: a cpio header at ${pos} could not be read`);
      pos = end;
      continue;
    }
    // A compressed segment runs to the end of the file (the kernel reads it that way too).
    parseCpio(decompress(initrd.subarray(pos)), 0, out);
    break;
  }
  return out;
}

/** modprobe treats `-` and `_` in module names alike. */
export const moduleName = (fileOrName: string): string => (fileOrName.split("/").pop() ?? "").replace(/\.ko(\.(xz|zst|gz))?$/, "").replace(/-/g, "_");

/** The kernel modules an initrd listing holds as files, by module name. */
export function initrdModuleNames(l: InitrdListing): Set<string> {
  return new Set(l.files.filter((f) => /\.ko(\.(xz|zst|gz))?$/.test(f)).map(moduleName));
}

/** The modules that mount the boot partition (FAT) from the initramfs: an A/B slot that does not verify is given up there. */
export const BOOT_PARTITION_MODULES = ["vfat", "nls_cp437", "nls_ascii", "nls_utf8"] as const;

/** The modules a board's initrd must hold (or its kernel have built in) to unlock with this method. */
export function requiredInitrdModules(board: Pick<BoardProfile, "initramfsModules">, unlock: UnlockMethod, layout: "single" | "ab" = "single"): string[] {
  const m = board.initramfsModules;
  // A/B: the slot is opened through dm-verity and gets a RAM overlay before the switch to it; a slot that does
  // not verify is given up on the (FAT) boot partition.
  return [...new Set([...m.storage, ...m.usbHost, ...m.keyboard, ...(unlock === "ssh" ? m.network : []), ...(layout === "ab" ? ["dm_verity", "overlay", ...BOOT_PARTITION_MODULES] : [])])];
}

/** Required modules neither in the initrd nor built into its kernel. */
export function missingInitrdModules(l: InitrdListing, required: readonly string[]): string[] {
  const have = initrdModuleNames(l);
  for (const b of l.builtin) have.add(moduleName(b));
  return required.filter((r) => !have.has(moduleName(r)));
}
