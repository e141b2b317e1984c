import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, createReadStream, existsSync, fsyncSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync, writeSync } from "node:fs";
import { basename } from "node:path";
import { createInterface } from "node:readline/promises";
import { SovereignError } from "../core/errors/SovereignError.js";

/** The whole disk a block device belongs to (sda1 → sda, nvme0n1p2 → nvme0n1), from sysfs. */
export function diskOf(devName: string, sysfsParent: (name: string) => string | undefined): string {
  return sysfsParent(devName) ?? devName;
}

/**
 * Why a flash target must be refused, or undefined. Pure: the caller passes
 * what /proc/mounts, /proc/swaps and sysfs say.
 */
export function flashRefusal(target: { name: string; isBlock: boolean; isWholeDisk: boolean }, busyDisks: ReadonlySet<string>, hostDisks: ReadonlySet<string>): string | undefined {
  if (!target.isBlock) return `${target.name} is not a block device`;
  if (!target.isWholeDisk) return `${target.name} is a partition; name the whole disk`;
  if (hostDisks.has(target.name)) return `${target.name} is the disk this host runs from`;
  if (busyDisks.has(target.name)) return `${target.name} has mounted filesystems or active swap; unmount them first`;
  return undefined;
}

function sysParent(name: string): string | undefined {
  const p = `/sys/class/block/${name}`;
  if (!existsSync(`${p}/partition`)) return undefined;
  return basename(realpathSync(`${p}/..`));
}

/** Disks with something mounted or swapped on them; "host" = those holding / , /usr or /boot. */
function diskUsage(): { busy: Set<string>; host: Set<string> } {
  const busy = new Set<string>();
  const host = new Set<string>();
  const add = (dev: string, isHost: boolean): void => {
    if (!dev.startsWith("/dev/")) return;
    let name: string;
    try {
      name = basename(realpathSync(dev));
    } catch {
      return;
    }
    // dm devices (LVM, LUKS): their slaves are the real disks.
    const slaves = `/sys/class/block/${name}/slaves`;
    const inner = existsSync(slaves) ? readdirSync(slaves) : [];
    const names = inner.length > 0 ? inner : [name];
    for (const n of names) {
      const disk = diskOf(n, sysParent);
      busy.add(disk);
      if (isHost) host.add(disk);
    }
  };
  for (const line of readFileSync("/proc/self/mounts", "utf8").split("\n")) {
    const [dev, mnt] = line.split(" ");
    if (dev && mnt) add(dev, ["/", "/usr", "/boot", "/boot/efi", "/boot/firmware", "/data"].includes(mnt));
  }
  for (const line of readFileSync("/proc/swaps", "utf8").split("\n").slice(1)) {
    const dev = line.split(/\s+/)[0];
    if (dev) add(dev, true);
  }
  return { busy, host };
}

function decompressor(image: string): [string, string[]] | undefined {
  if (image.endsWith(".zst")) return ["zstd", ["-dc", image]];
  if (image.endsWith(".xz")) return ["xz", ["-dc", image]];
  return undefined;
}

export interface FlashResult {
  image: string;
  device: string;
  bytes: number;
  sha256: string;
  seconds: number;
}

/** Writes the image to the device, then reads the same number of bytes back and compares SHA-256. */
export async function flashImage(image: string, device: string, opts: { yes: boolean; onProgress?: (m: string) => void }): Promise<FlashResult> {
  if (!existsSync(image)) throw new SovereignError("IMAGE_INPUT_MISSING", `image ${image} does not exist`);
  if (!existsSync(device)) throw new SovereignError("IMAGE_FLASH_TARGET_REFUSED", `${device} does not exist`);
  const real = realpathSync(device);
  const name = basename(real);
  const st = statSync(real);
  const { busy, host } = diskUsage();
  const why = flashRefusal({ name, isBlock: st.isBlockDevice(), isWholeDisk: existsSync(`/sys/block/${name}`) }, busy, host);
  if (why) throw new SovereignError("IMAGE_FLASH_TARGET_REFUSED", `refusing to flash ${device}: ${why}`);
  if (!opts.yes) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(`This erases everything on ${device}. Type "yes" to continue: `);
    rl.close();
    if (answer.trim() !== "yes") throw new SovereignError("IMAGE_FLASH_ABORTED", "flash not confirmed");
  }
  const t0 = performance.now();
  const hash = createHash("sha256");
  const fd = openSync(real, "w");
  let bytes = 0;
  let lastReport = 0;
  const dec = decompressor(image);
  const source = dec ? spawn(dec[0], dec[1], { stdio: ["ignore", "pipe", "inherit"] }).stdout : createReadStream(image, { highWaterMark: 4 << 20 });
  try {
    for await (const chunk of source) {
      const b = chunk as Buffer;
      hash.update(b);
      writeSync(fd, b, 0, b.length, bytes);
      bytes += b.length;
      if (bytes - lastReport > 64 << 20) {
        lastReport = bytes;
        opts.onProgress?.(`written ${(bytes / 1024 ** 2).toFixed(0)} MiB`);
      }
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const expected = hash.digest("hex");
  opts.onProgress?.("verifying (reading back)");
  const back = createHash("sha256");
  const rfd = openSync(real, "r");
  try {
    const buf = Buffer.alloc(4 << 20);
    for (let off = 0; off < bytes; ) {
      const n = readSync(rfd, buf, 0, Math.min(buf.length, bytes - off), off);
      if (n <= 0) break;
      back.update(buf.subarray(0, n));
      off += n;
    }
  } finally {
    closeSync(rfd);
  }
  const got = back.digest("hex");
  if (got !== expected) throw new SovereignError("IMAGE_FLASH_VERIFY_FAILED", `read-back sha256 ${got} differs from the image's ${expected}`);
  return { image, device, bytes, sha256: expected, seconds: Math.round((performance.now() - t0) / 100) / 10 };
}
