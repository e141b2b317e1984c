import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** The sha256 of a file, streamed in 1 MiB reads (models and bundles are gigabytes); `onBytes` sees each read, for progress. */
export async function sha256File(path: string, onBytes?: (n: number) => void): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer);
    onBytes?.((chunk as Buffer).length);
  }
  return h.digest("hex");
}
