import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { publicKeyOf } from "../../core/ed25519.js";
import { loadOrCreateBuildKey } from "./manifest.js";

/**
 * The update key an image pins: from `--update-key FILE` (a 32-byte secret
 * key, or its public key as 64 hex digits), else the build key in the cache.
 * Returned as the hex public key that goes in update.trustedKeys.
 */
export function trustedUpdateKey(cacheDir: string, updateKeyFile?: string): string {
  if (!updateKeyFile) return Buffer.from(publicKeyOf(loadOrCreateBuildKey(join(cacheDir, "build-key.ed25519")))).toString("hex");
  const raw = readFileSync(updateKeyFile);
  const text = raw.toString("utf8").trim().toLowerCase();
  if (/^[0-9a-f]{64}$/.test(text)) return text;
  if (raw.length === 32) return Buffer.from(publicKeyOf(new Uint8Array(raw))).toString("hex");
  throw new SovereignError("IMAGE_OPTION_INVALID", `--update-key ${updateKeyFile} holds neither a 32-byte ed25519 secret key nor a public key in 64 hex digits`);
}

/** The image's /etc/sovereign/config.json: the update keys it accepts, and in the A/B layout its slots (the node reads it as its config file). */
export function imageConfigJson(trustedKeys: readonly string[], slots: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ update: { trustedKeys, ...slots } }, null, 2)}\n`;
}
