import { rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BuildContext } from "../BuildContext.js";
import { LUKS_LABEL } from "../lib/bootConfig.js";
import { exec } from "../lib/exec.js";
import { readLuks2Header } from "../lib/luksPayload.js";
import { LUKS_REDUCE_BYTES } from "./rootfsImage.js";
import { defineStep } from "./Step.js";

/**
 * The cipher the image is built with. Offline encryption runs in cryptsetup's user-space crypto backend,
 * which has AES-XTS but not Adiantum (Adiantum there needs dm-crypt, i.e. device-mapper). So Adiantum
 * boards ship AES-XTS and first boot's re-encryption switches them to Adiantum along with the new key.
 */
export function buildCipher(board: { luks: { cipher: string; keySize: number } }): { cipher: string; keySize: number } {
  return board.luks.cipher.includes("adiantum") ? { cipher: "aes-xts-plain64", keySize: 512 } : { cipher: board.luks.cipher, keySize: board.luks.keySize };
}

/** argon2id for the build's keyslots: the board's cap, or the tests' cheaper setting (first boot re-enrolls with the cap). */
function pbkdfArgs(ctx: Pick<BuildContext, "board" | "options">): string[] {
  const l = ctx.board.luks;
  const memory = Math.min(ctx.options.buildPbkdfMemoryKiB ?? l.pbkdfMemoryKiB, l.pbkdfMemoryKiB);
  const args = ["--pbkdf", "argon2id", "--pbkdf-memory", String(memory), "--pbkdf-parallel", "1"];
  // Tests ask for a cheap KDF so the TCG guest unlocks quickly.
  if (ctx.options.buildPbkdfMemoryKiB !== undefined) args.push("--pbkdf-force-iterations", "4");
  return args;
}

/** The `cryptsetup reencrypt --encrypt` arguments for the board (offline, on a file: no device-mapper). */
export function encryptArgs(ctx: Pick<BuildContext, "board" | "options">, luksUuid: string, keyFile: string, image: string): string[] {
  return [
    "reencrypt", "--encrypt", "--type", "luks2", "--batch-mode",
    "--cipher", buildCipher(ctx.board).cipher, "--key-size", String(buildCipher(ctx.board).keySize), "--sector-size", "4096",
    ...pbkdfArgs(ctx),
    "--uuid", luksUuid, "--label", LUKS_LABEL,
    "--reduce-device-size", `${LUKS_REDUCE_BYTES / 1024 / 1024}M`,
    "--key-file", keyFile,
    image,
  ];
}

/**
 * `cryptsetup luksAddKey` for the recovery key: a second keyslot, keyslot 1 (the build key is 0). It
 * writes the header only, so it works on the image file without device-mapper.
 */
export function recoveryKeyArgs(ctx: Pick<BuildContext, "board" | "options">, keyFile: string, recoveryFile: string, image: string): string[] {
  return ["luksAddKey", "--batch-mode", ...pbkdfArgs(ctx), "--key-file", keyFile, image, recoveryFile];
}

/**
 * Step 7c: LUKS2-encrypt the root image (the data partition's in the A/B layout) in place with the
 * build passphrase, under the UUID configure chose; add the recovery key's keyslot.
 */
export const encryptStep = defineStep({
  name: "encrypt",
  title: "Encrypt root (or the A/B data partition) as LUKS2 (offline, in place)",
  needs: ["keys", "configure", "rootfs-image", "data-image"],
  async run(ctx, { keys, configure, "rootfs-image": rootFs, "data-image": data }) {
    const root = data ?? rootFs;
    const img = root.image;
    const keyFile = join(ctx.work, "build.key");
    writeFileSync(keyFile, keys.buildKey, { mode: 0o600 });
    const bc = buildCipher(ctx.board).cipher;
    ctx.progress(`${bc}${bc === ctx.board.luks.cipher ? "" : ` (first boot re-encrypts to ${ctx.board.luks.cipher})`}, argon2id ≤ ${ctx.board.luks.pbkdfMemoryKiB} KiB`);
    await exec("cryptsetup", encryptArgs(ctx, configure.ids.luksUuid, keyFile, img), { logFile: ctx.logFile, nice: true });
    const recoveryFile = join(ctx.work, "recovery.key");
    writeFileSync(recoveryFile, keys.recoveryKey, { mode: 0o600 });
    await exec("cryptsetup", recoveryKeyArgs(ctx, keyFile, recoveryFile, img), { logFile: ctx.logFile });
    rmSync(recoveryFile, { force: true });
    // cryptsetup keeps half of --reduce-device-size for the header and leaves the other half, now
    // encrypted zeros that cannot compress, after the filesystem. The data segment is "dynamic" (it maps
    // whatever follows the header), so the volume ends where the filesystem ends; first boot grows it.
    const dataOffset = Number(Object.values(readLuks2Header(img).json.segments)[0]?.offset ?? "0");
    const fit = dataOffset + root.fsBytes;
    if (dataOffset > 0 && fit < statSync(img).size) truncateSync(img, fit);
    return { image: img, buildCipher: bc };
  },
});
