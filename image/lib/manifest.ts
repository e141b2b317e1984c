import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { generateSecretKey, publicKeyOf, sign, verify } from "../../core/ed25519.js";
import { canonicalJson } from "../../core/canonicalJson.js";

export interface BuildManifest {
  schema: 1;
  name: string;
  board: string;
  arch: string;
  suite: string;
  builtAt: string;
  versions: { runtime: string; node: string; kernel: string; builder: string };
  unlock: string;
  /** cipher: the device's, after first boot; buildCipher: what the image ships with until then. */
  luks: { uuid: string; cipher: string; buildCipher: string; keySize: number; pbkdfMemoryKiB: number };
  partitionTable: string;
  sizes: { rootfsBytes: number; diskBytes: number; runtimeBytes: number };
  files: { file: string; sha256: string; bytes: number }[];
  models: { file: string; sha256: string; bytes: number }[];
  /** Every installed package with its exact version (security fixes come in at build time: see the packages step), so a later bundle can list the CVE-relevant changes. */
  packages: { name: string; version: string; arch: string }[];
  /** systemd-analyze's exposure score of sovereign.service (0 best, 10 worst), measured in the rootfs at build. */
  security: { sovereignServiceExposure: number | null };
  timings: { step: string; seconds: number; skipped: boolean }[];
}

export function signManifest(m: BuildManifest, secretKey: Uint8Array): { json: string; signature: string; publicKey: string } {
  const json = canonicalJson(m);
  const signature = Buffer.from(sign(Buffer.from(json, "utf8"), secretKey)).toString("base64");
  return { json, signature, publicKey: Buffer.from(publicKeyOf(secretKey)).toString("hex") };
}

/** Verifies manifest.json text against its .sig (base64) and the build key (hex). */
export function verifyManifest(jsonText: string, signatureB64: string, publicKeyHex: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(jsonText);
  } catch {
    return false;
  }
  return verify(Buffer.from(signatureB64.trim(), "base64"), Buffer.from(canonicalJson(parsed), "utf8"), Buffer.from(publicKeyHex.trim(), "hex"));
}

/** The build host's ed25519 key, created once (mode 0600) and reused so every image it builds verifies with one public key. */
export function loadOrCreateBuildKey(path: string): Uint8Array {
  if (existsSync(path)) return new Uint8Array(readFileSync(path));
  mkdirSync(dirname(path), { recursive: true });
  // Written aside, then linked into place: two builds starting together on one cache must not sign
  // with two keys (the later write would orphan every image the first one signed), nor read half a key.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, generateSecretKey(), { mode: 0o600 });
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  return new Uint8Array(readFileSync(path));
}

/** SHA256SUMS in the format `sha256sum -c` reads. */
export function sha256sums(files: { file: string; sha256: string }[]): string {
  return files.map((f) => `${f.sha256}  ${f.file}`).join("\n") + "\n";
}

/** Parses `dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\n'`. */
export function parseDpkgList(text: string): { name: string; version: string; arch: string }[] {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => {
      const [name = "", version = "", arch = ""] = l.split("\t");
      return { name, version, arch };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}
