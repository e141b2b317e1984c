import { statSync } from "node:fs";
import { VERITY_BLOCK_BYTES, type SlotVerity } from "../../core/bootSelection.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { capture } from "./exec.js";

export { VERITY_BLOCK_BYTES, type SlotVerity };

/** What `veritysetup format` reports about the tree it wrote. */
export interface VerityFormatReport {
  rootHash: string;
  dataBlocks: number;
  hashBlocks: number;
  hashAlgorithm: string;
}

/** Parses `veritysetup format`'s report ("Root hash:  \t<hex>", …). Kept apart from running it, so recorded output serves as a fixture. */
export function parseVerityFormat(out: string): VerityFormatReport {
  const field = (name: string): string | undefined => new RegExp(`^${name}:\\s*(\\S+)\\s*$`, "m").exec(out)?.[1];
  const rootHash = field("Root hash");
  const dataBlocks = Number(field("Data blocks"));
  const hashBlocks = Number(field("Hash blocks") ?? "0");
  const hashAlgorithm = field("Hash algorithm") ?? "";
  if (!rootHash || !/^[0-9a-f]{64}$/.test(rootHash) || !Number.isSafeInteger(dataBlocks) || dataBlocks <= 0)
    throw new SovereignError("IMAGE_COMMAND_FAILED", `veritysetup format printed no usable root hash:\n${out.slice(0, 2000)}`);
  return { rootHash, dataBlocks, hashBlocks, hashAlgorithm };
}

/**
 * Appends the dm-verity hash tree to a slot's root filesystem image, in the same file right after the
 * filesystem (`--hash-offset`), and returns the signed-to-be root hash and the file's new size. A regular
 * file only: nothing is mapped, no loop device or device-mapper is needed.
 */
export async function formatSlotVerity(img: string, fsBytes: number, logFile?: string): Promise<{ verity: SlotVerity; bytes: number; report: VerityFormatReport }> {
  if (fsBytes % VERITY_BLOCK_BYTES !== 0) throw new SovereignError("IMAGE_COMMAND_FAILED", `the root filesystem (${fsBytes} bytes) is not a whole number of ${VERITY_BLOCK_BYTES}-byte blocks`);
  const out = await capture("veritysetup", ["format", `--hash-offset=${fsBytes}`, `--data-blocks=${fsBytes / VERITY_BLOCK_BYTES}`, `--data-block-size=${VERITY_BLOCK_BYTES}`, `--hash-block-size=${VERITY_BLOCK_BYTES}`, "--hash=sha256", img, img], logFile ? { logFile } : {});
  const report = parseVerityFormat(out);
  if (report.dataBlocks * VERITY_BLOCK_BYTES !== fsBytes) throw new SovereignError("IMAGE_COMMAND_FAILED", `veritysetup hashed ${report.dataBlocks} blocks, not the filesystem's ${fsBytes / VERITY_BLOCK_BYTES}`);
  return { verity: { rootHash: report.rootHash, hashOffset: fsBytes }, bytes: statSync(img).size, report };
}

/** Checks a slot image against a root hash in user space (`veritysetup verify`, which maps nothing): true when every block matches. */
export async function verifySlotVerity(img: string, verity: SlotVerity): Promise<boolean> {
  try {
    await capture("veritysetup", ["verify", `--hash-offset=${verity.hashOffset}`, img, img, verity.rootHash]);
    return true;
  } catch {
    return false;
  }
}
