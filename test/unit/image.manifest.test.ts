import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../core/canonicalJson.js";
import { loadOrCreateBuildKey, parseDpkgList, sha256sums, signManifest, verifyManifest, type BuildManifest } from "../../image/lib/manifest.js";
import { generateSecretKey } from "../../core/ed25519.js";

const manifest: BuildManifest = {
  schema: 1, name: "sovereign-x86_64-20261121", board: "x86_64", arch: "amd64", suite: "trixie", builtAt: "2026-11-21T00:00:00.000Z",
  versions: { runtime: "0.1.0", node: "20.19.2+dfsg-1", kernel: "linux-image-6.12.0-1-amd64 6.12.1-1", builder: "0.1.0" },
  unlock: "usb-key", luks: { uuid: "u", cipher: "aes-xts-plain64", buildCipher: "aes-xts-plain64", keySize: 512, pbkdfMemoryKiB: 1048576 }, partitionTable: "gpt",
  sizes: { rootfsBytes: 1, diskBytes: 2, runtimeBytes: 3 },
  files: [{ file: "x.img.zst", sha256: "ab".repeat(32), bytes: 10 }], models: [],
  packages: [{ name: "nodejs", version: "20.19.2", arch: "amd64" }], security: { sovereignServiceExposure: 1.6 }, timings: [{ step: "bootstrap", seconds: 1.5, skipped: false }],
};

describe("build manifest signing", () => {
  it("verifies with the build key and fails for any change", () => {
    const key = generateSecretKey();
    const s = signManifest(manifest, key);
    expect(verifyManifest(s.json, s.signature, s.publicKey)).toBe(true);
    // Re-serialised differently (pretty-printed) still verifies: the signature covers canonical JSON.
    expect(verifyManifest(JSON.stringify(JSON.parse(s.json), null, 2), s.signature, s.publicKey)).toBe(true);
    const tampered = JSON.stringify({ ...manifest, board: "rpi4" });
    expect(verifyManifest(tampered, s.signature, s.publicKey)).toBe(false);
    expect(verifyManifest(s.json, s.signature, Buffer.from(generateSecretKey()).toString("hex"))).toBe(false);
    expect(verifyManifest("not json", s.signature, s.publicKey)).toBe(false);
  });

  it("canonical JSON sorts keys at every level", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}');
  });

  it("the build key is made once, 0600, and reused", () => {
    const dir = mkdtempSync(join(tmpdir(), "sov-key-"));
    const a = loadOrCreateBuildKey(join(dir, "k"));
    const b = loadOrCreateBuildKey(join(dir, "k"));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(statSync(join(dir, "k")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, "k")).length).toBe(32);
  });

  it("builds that start together on one cache all get the one build key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sov-key-"));
    const at = Date.now() + 3000;
    // Each process waits for the same instant, then makes or reads the key: with a plain write, several see
    // no file and each keeps its own key.
    const code = `import { loadOrCreateBuildKey } from ${JSON.stringify(join(import.meta.dirname, "../../image/lib/manifest.ts"))};
      while (Date.now() < ${at});
      process.stdout.write(Buffer.from(loadOrCreateBuildKey(${JSON.stringify(join(dir, "k"))})).toString("hex"));`;
    const keys = await Promise.all(Array.from({ length: 6 }, () => new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], (err, out) => (err ? reject(err) : resolve(out)));
    })));
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toBe(readFileSync(join(dir, "k")).toString("hex"));
    expect(readdirSync(dir)).toEqual(["k"]);
  }, 30_000);

  it("SHA256SUMS is in sha256sum -c format", () => {
    expect(sha256sums([{ file: "a.img", sha256: "00ff" }])).toBe("00ff  a.img\n");
  });

  it("parses the dpkg package list", () => {
    expect(parseDpkgList("zstd\t1.5\tamd64\nbash\t5.2\tamd64\n")).toEqual([
      { name: "bash", version: "5.2", arch: "amd64" },
      { name: "zstd", version: "1.5", arch: "amd64" },
    ]);
  });
});
