import { open, type FileHandle } from "node:fs/promises";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { storedSha256Of, type VerifyPolicy } from "./bundleFormat.js";
import { openBundle, type OnProgress, type OpenedBundle } from "./bundleReader.js";
import { copyPart } from "./copyPart.js";

/**
 * The verify pass: header checks, then every part read whole against the
 * signed manifest, a compressed part unpacked too (to nowhere) and checked
 * for its signed size and sha256. Nothing is written anywhere, so a bundle
 * that would not apply, even a signed one built wrong (a decompression bomb),
 * is refused while the inactive slot, often the fallback, still holds what it
 * held. That costs one more gunzip of each compressed part. Returns the
 * verified manifest.
 */
export async function verifyBundleFile(path: string, policy: VerifyPolicy, onProgress?: OnProgress): Promise<OpenedBundle> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    throw new SovereignError("UPDATE_BUNDLE_MALFORMED", `Cannot read the bundle ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}.`, { hint: "Check the path." });
  }
  try {
    const bundle = await openBundle(fh, policy);
    const total = bundle.manifest.parts.reduce((s, p) => s + p.size, 0);
    let done = 0;
    for (const part of bundle.manifest.parts) {
      const got = await copyPart(fh, bundle, part, async () => undefined, (b) => {
        done += b;
        onProgress?.("verify", done, total);
      });
      const expected = storedSha256Of(part);
      if (got.storedSha256 !== expected) {
        throw new SovereignError("UPDATE_PART_CORRUPT", `Part ${part.name} of the bundle does not match its signed sha256.`, { details: { part: part.name, expected, actual: got.storedSha256 } });
      }
      if (got.unpackFailure !== null || got.sha256 !== part.sha256) {
        const why = got.unpackFailure ?? "it unpacks to other bytes than its signed sha256";
        throw new SovereignError("UPDATE_PART_UNPACK_FAILED", `Part ${part.name} of the bundle does not unpack: ${why}. Nothing was written.`, {
          details: { part: part.name, size: part.size, unpackedBytes: got.bytes },
        });
      }
    }
    return bundle;
  } finally {
    await fh.close();
  }
}
