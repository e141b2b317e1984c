import { boardSupportsAb } from "../lib/abLayout.js";
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync, statfsSync } from "node:fs";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { exec } from "../lib/exec.js";
import { checkGguf } from "../lib/ggufCheck.js";
import { toolsFor } from "../lib/hostTools.js";
import type { BuildContext } from "../BuildContext.js";
import { defineStep } from "./Step.js";

/** Free space a build needs in the work/output directory, beyond the models. */
export const MIN_FREE_BYTES = 6 * 1024 ** 3;

function hostArch(): "amd64" | "arm64" | "other" {
  return process.arch === "x64" ? "amd64" : process.arch === "arm64" ? "arm64" : "other";
}

export function missingTools(ctx: Pick<BuildContext, "board" | "options" | "distro">, has: (tool: string) => boolean): { tool: string; pkg: string }[] {
  const foreign = hostArch() === ctx.board.arch ? undefined : ctx.board.arch;
  return toolsFor({ compress: ctx.options.compress, foreignArch: foreign, distroTools: ctx.distro.hostTools }).filter((t) => !has(t.tool));
}

function hasTool(tool: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore", env: { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` } });
    return true;
  } catch {
    return false;
  }
}

function readable(path: string, what: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new SovereignError("IMAGE_INPUT_MISSING", `${what} ${path} does not exist or cannot be read`);
  }
}

/**
 * Everything that can be refused is refused here, before any work: a wrong
 * option must never cost a 10-minute bootstrap first.
 */
export const preflightStep = defineStep({
  name: "preflight",
  title: "Check the host and the inputs",
  needs: [],
  async run(ctx) {
    const o = ctx.options;
    if (!ctx.board.unlock.includes(ctx.unlock))
      throw new SovereignError("IMAGE_UNLOCK_UNSUPPORTED", `board ${ctx.board.id} does not support --unlock ${ctx.unlock} (it supports ${ctx.board.unlock.join(", ")})`);
    if (o.layout === "ab" && !boardSupportsAb(ctx.board))
      throw new SovereignError("IMAGE_OPTION_INVALID", `--layout ab is built for UEFI boards with a GPT disk and the Raspberry Pis so far, not ${ctx.board.id} (its boot is ${ctx.board.boot.kind}, table ${ctx.board.partitions.table})`);
    // The node's own dropbear keys reach a UEFI slot's initramfs through the ESP's unlock archive; a Pi slot boots
    // only from its own boot partition, which an update replaces whole, so nothing carries them there yet.
    if (o.layout === "ab" && ctx.unlock === "ssh" && ctx.board.boot.kind === "raspberrypi")
      throw new SovereignError("IMAGE_OPTION_INVALID", `--layout ab with --unlock ssh is built for UEFI boards so far, not ${ctx.board.id}: use --unlock passphrase or usb-key`);
    if (ctx.unlock === "ssh" && !o.sshKeyFile)
      throw new SovereignError("IMAGE_OPTION_INVALID", "--unlock ssh needs --ssh-key FILE (an authorized_keys file for dropbear in the initramfs)");
    if (o.sshKeyFile) readable(o.sshKeyFile, "--ssh-key file");
    if (o.passphraseFile) {
      readable(o.passphraseFile, "--passphrase-file");
      if (readFileSync(o.passphraseFile).length < 8) throw new SovereignError("IMAGE_OPTION_INVALID", "the passphrase in --passphrase-file is shorter than 8 characters");
    }
    if (o.setupCodeFile) readable(o.setupCodeFile, "--setup-code-file");
    if (o.l4t && !ctx.board.vendorLayer) throw new SovereignError("IMAGE_OPTION_INVALID", `--l4t applies to jetson-orin only, not ${ctx.board.id}`);
    if (o.l4t && !o.l4t.startsWith("deb ") && !existsSync(o.l4t))
      throw new SovereignError("IMAGE_VENDOR_LAYER_MISSING", `--l4t ${o.l4t} is neither an existing BSP directory nor an apt source line ("deb URL SUITE COMPONENT")`);
    for (const m of o.models) checkGguf(m);

    const missing = missingTools(ctx, hasTool);
    if (missing.length > 0) {
      const pkgs = [...new Set(missing.map((m) => m.pkg))];
      throw new SovereignError("IMAGE_HOST_TOOL_MISSING", `missing host tool(s): ${missing.map((m) => m.tool).join(", ")}`, {
        hint: `apt-get install ${pkgs.join(" ")}`,
      });
    }
    if (o.dryRun) return undefined;
    if (typeof process.getuid === "function" && process.getuid() !== 0) throw new SovereignError("IMAGE_NOT_ROOT", "sovereign image build must run as root");
    if (ctx.board.arch === "arm64" && hostArch() !== "arm64" && !existsSync("/proc/sys/fs/binfmt_misc/qemu-aarch64")) {
      // CI containers often have qemu-user-static installed but binfmt_misc unmounted: set it up once, as apt would.
      ctx.progress("registering qemu-aarch64 with binfmt_misc");
      await exec("sh", ["-c", "mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable qemu-aarch64"]).catch(() => "");
    }
    if (ctx.board.arch !== hostArch() && !existsSync("/proc/sys/fs/binfmt_misc/qemu-aarch64") && ctx.board.arch === "arm64")
      throw new SovereignError("IMAGE_HOST_TOOL_MISSING", "arm64 binaries cannot run on this host: qemu-aarch64 is not registered with binfmt_misc", {
        hint: "apt-get install qemu-user-static binfmt-support; mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable qemu-aarch64",
      });
    mkdirSync(o.out, { recursive: true });
    const modelBytes = o.models.reduce((n, m) => n + (existsSync(m) ? statfsSafe(m) : 0), 0);
    for (const dir of new Set([o.out, o.cache])) {
      mkdirSync(dir, { recursive: true });
      const fs = statfsSync(dir);
      const free = fs.bavail * fs.bsize;
      const need = MIN_FREE_BYTES + 2 * modelBytes;
      if (free < need)
        throw new SovereignError("IMAGE_DISK_SPACE", `${dir} has ${(free / 1024 ** 3).toFixed(1)} GiB free; the build needs about ${(need / 1024 ** 3).toFixed(1)} GiB`);
    }
    return undefined;
  },
});

function statfsSafe(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
