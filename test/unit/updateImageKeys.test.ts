import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveConfig } from "../../appliance/config/resolveConfig.js";
import { generateSecretKey, publicKeyOf } from "../../core/ed25519.js";
import { imageConfigJson, trustedUpdateKey } from "../../image/lib/bundleKeys.js";
import { loadOrCreateBuildKey } from "../../image/lib/manifest.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sovereign-update-keys-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const hex = (k: Uint8Array): string => Buffer.from(k).toString("hex");

describe("the update key an image pins", () => {
  it("defaults to the build key that signs the manifest, created once in the cache", () => {
    const k = trustedUpdateKey(dir);
    expect(existsSync(join(dir, "build-key.ed25519"))).toBe(true);
    expect(k).toBe(hex(publicKeyOf(loadOrCreateBuildKey(join(dir, "build-key.ed25519")))));
  });

  it("takes --update-key as a secret key file or as a hex public key, and refuses anything else", () => {
    const secret = generateSecretKey();
    writeFileSync(join(dir, "update.key"), secret);
    expect(trustedUpdateKey(dir, join(dir, "update.key"))).toBe(hex(publicKeyOf(secret)));
    writeFileSync(join(dir, "update.pub"), `${hex(publicKeyOf(secret)).toUpperCase()}\n`);
    expect(trustedUpdateKey(dir, join(dir, "update.pub"))).toBe(hex(publicKeyOf(secret)));
    writeFileSync(join(dir, "junk"), "not a key");
    expect(() => trustedUpdateKey(dir, join(dir, "junk"))).toThrow(expect.objectContaining({ code: "IMAGE_OPTION_INVALID" }));
  });

  it("writes config.json that the node reads as update.trustedKeys", () => {
    const k = trustedUpdateKey(dir);
    const { config } = resolveConfig({ file: JSON.parse(imageConfigJson([k])) as Record<string, unknown>, filePath: "/etc/sovereign/config.json", env: {} });
    expect(config["update.trustedKeys"]).toEqual([k]);
  });
});
