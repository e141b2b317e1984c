import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BuildContext } from "../BuildContext.js";
import { USB_KEY_FILE, USB_KEY_LABEL } from "../lib/bootConfig.js";
import { exec } from "../lib/exec.js";
import { makeRecoveryKey } from "../lib/recoveryKey.js";
import type { BuildKeys } from "../StepOutputs.js";
import { defineStep } from "./Step.js";

/** A small FAT image labelled SOVKEY holding the key file: dd it to a stick, or copy the file onto any stick with that label. */
async function writeUsbKeyImage(ctx: BuildContext, buildKey: Buffer): Promise<string> {
  const img = join(ctx.options.out, `${ctx.name}.usbkey.img`);
  ctx.discardOnFailure(img);
  const key = join(ctx.work, "usb.key");
  writeFileSync(key, buildKey, { mode: 0o600 });
  rmSync(img, { force: true });
  await exec("mkfs.vfat", ["-n", USB_KEY_LABEL, "-C", img, String(8 * 1024)], { logFile: ctx.logFile });
  await exec("mcopy", ["-i", img, key, `::/${USB_KEY_FILE}`], { logFile: ctx.logFile, env: { ...process.env, MTOOLS_SKIP_CHECK: "1" } });
  return img;
}

/**
 * The build passphrase: the user's (--passphrase-file, kept as the
 * recovery passphrase), else a generated one written beside the image
 * (0600). The recovery key, for every unlock method: written once beside
 * the image (0600); the encrypt step puts it in its own keyslot. For
 * usb-key unlock, the key stick image too. All are removed if the build
 * fails: keys to an image that was never finished help nobody.
 */
export const keysStep = defineStep({
  name: "keys",
  title: "Make the build passphrase, the recovery key (and the key stick image)",
  needs: ["preflight"],
  async run(ctx) {
    const o = ctx.options;
    let keys: BuildKeys;
    const recovery = { recoveryKey: makeRecoveryKey(), recoveryKeyFile: join(o.out, `${ctx.name}.recovery-key`) };
    ctx.discardOnFailure(recovery.recoveryKeyFile);
    // No newline: the file is the keyslot's passphrase byte for byte (cryptsetup --key-file takes it as is).
    rmSync(recovery.recoveryKeyFile, { force: true });
    writeFileSync(recovery.recoveryKeyFile, recovery.recoveryKey, { mode: 0o600 });
    if (o.passphraseFile) {
      keys = { buildKey: readFileSync(o.passphraseFile), ...recovery };
    } else {
      // Printable, so it can be typed at the console; 24 chars of base32 ≈ 120 bits.
      const pass = randomBytes(15).toString("base64url").replace(/[-_]/g, "x");
      const file = join(o.out, `${ctx.name}.passphrase`);
      ctx.discardOnFailure(file);
      writeFileSync(file, pass, { mode: 0o600 });
      keys = { buildKey: Buffer.from(pass), passphraseFile: file, ...recovery };
    }
    if (ctx.unlock === "usb-key") keys.usbKeyImage = await writeUsbKeyImage(ctx, keys.buildKey);
    ctx.progress(keys.passphraseFile ? `generated passphrase in ${keys.passphraseFile}` : `passphrase from ${o.passphraseFile ?? ""}`);
    // The path only: the key itself is shown once, by the CLI at the end of a successful build, never in the log.
    ctx.progress(`recovery key in ${recovery.recoveryKeyFile}`);
    return keys;
  },
});
