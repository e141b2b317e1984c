import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { sha256File } from "../../core/fs/sha256File.js";
import { writePrivateJson } from "../../core/fs/writePrivateFile.js";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { compareVersions } from "../../core/compareVersions.js";
import type { BundleManifest } from "./bundleFormat.js";
import { readBundleHead } from "./bundleReader.js";
import { verifyBundleFile } from "./verifyBundleFile.js";

/**
 * What a node tells its core peers about a bundle it shares: enough to
 * decide before fetching one byte of the body. `header` is the bundle's first
 * bytes (magic, header length, the signed header) in base64: the receiver
 * checks the signature, key, board and version in it, and the fetched file
 * must start with exactly these bytes and hash to `sha256`.
 */
export interface BundleOffer {
  v: 1;
  version: string;
  board: string;
  size: number;
  sha256: string;
  header: string;
}

const SHA = /^[0-9a-f]{64}$/;

/** A bundle file's first bytes (magic, header length, header) and its manifest, parsed, not verified. */
async function headOf(path: string): Promise<{ head: Buffer; manifest: BundleManifest }> {
  const fh = await open(path, "r");
  try {
    const { head, envelope } = await readBundleHead(fh);
    return { head, manifest: envelope.manifest };
  } finally {
    await fh.close();
  }
}

/** The offer for a bundle file (its header is parsed, not verified: the sharing node applied it, each receiver verifies). */
export async function offerOf(path: string): Promise<BundleOffer> {
  const { head, manifest } = await headOf(path);
  return { v: 1, version: manifest.version, board: manifest.board, size: statSync(path).size, sha256: await sha256File(path), header: head.toString("base64") };
}

/**
 * A bundle an admin gives this node to share, for any board and version: signature, trusted key,
 * length and every part's hash are checked as for an apply; board and version are the receivers' to check.
 */
export async function verifyForSharing(path: string, trustedKeys: readonly string[]): Promise<BundleManifest> {
  const { manifest } = await headOf(path);
  const b = await verifyBundleFile(path, { trustedKeys, board: manifest.board, runningVersion: "0", allowDowngrade: true });
  return b.manifest;
}

/**
 * The bundles this node shares with its core peers: `<dataDir>/update/offers/<sha256>.sovupdate`
 * with `<sha256>.json` (the offer), the newest `keep` versions per board; older ones are deleted when one is added.
 */
export class OfferStore {
  constructor(readonly dir: string, private readonly keep: number) {}

  /** Adds a bundle (moved when `move`, else copied), then prunes; returns its offer. */
  async add(path: string, move: boolean): Promise<BundleOffer> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const offer = await offerOf(path);
    const target = this.pathOf(offer.sha256) as string;
    if (move) renameSync(path, target);
    else copyFileSync(path, target);
    writePrivateJson(join(this.dir, `${offer.sha256}.json`), offer);
    this.prune();
    return offer;
  }

  pathOf(sha256: string): string | null {
    return SHA.test(sha256) ? join(this.dir, `${sha256}.sovupdate`) : null;
  }

  /** The file of a shared bundle, or null when this store does not hold it. */
  fileOf(sha256: string): string | null {
    const p = this.pathOf(sha256);
    if (!p) return null;
    try {
      return statSync(p).isFile() ? p : null;
    } catch {
      return null;
    }
  }

  /** The offers held, newest version first. */
  list(): BundleOffer[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: BundleOffer[] = [];
    for (const n of names) {
      if (!n.endsWith(".json")) continue;
      try {
        const o = JSON.parse(readFileSync(join(this.dir, n), "utf8")) as BundleOffer;
        if (o.v === 1 && SHA.test(o.sha256) && this.fileOf(o.sha256)) out.push(o);
      } catch {
        // a half-written or foreign file: not an offer
      }
    }
    return out.sort((a, b) => compareVersions(b.version, a.version));
  }

  /** Keeps the newest `keep` versions per board. */
  private prune(): void {
    const seen = new Map<string, number>();
    for (const o of this.list()) {
      const n = (seen.get(o.board) ?? 0) + 1;
      seen.set(o.board, n);
      if (n <= this.keep) continue;
      rmSync(join(this.dir, `${o.sha256}.sovupdate`), { force: true });
      rmSync(join(this.dir, `${o.sha256}.json`), { force: true });
    }
  }
}
