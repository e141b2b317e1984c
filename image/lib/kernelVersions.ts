import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Kernels installed in a rootfs: the versions under /usr/lib/modules that have a modules.dep. */
export function kernelVersions(rootfs: string): string[] {
  const base = join(rootfs, "usr/lib/modules");
  return existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, "modules.dep"))) : [];
}
